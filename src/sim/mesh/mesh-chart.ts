// The SVG chart `peernet sim mesh` writes next to its JSON: delivery, control and data
// traffic over the run, with the measured period's start and the events marked.

import { lineChart } from '../svg-chart.ts'
import type { MeshResult } from './mesh-experiment.ts'

export function meshChart (r: MeshResult): string {
  const s = r.series
  const markers = [s.measureStartS, ...s.eventSeconds]
  return lineChart({
    title: `Mesh: ${r.topology.nodes.toLocaleString('en-US')} nodes, ${r.topology.kind}, seed ${r.parameters.seed}`,
    xLabel: 'virtual time (s); first line: end of initial convergence, others: events',
    markers,
    panels: [
      { title: 'Delivery ratio (packets sent in the interval, destination reachable)', yLabel: 'delivered', yMin: Math.min(0.9, ...s.deliveryRatio.filter(Number.isFinite)), yMax: 1, series: [{ name: 'delivery', x: s.second, y: s.deliveryRatio }] },
      { title: 'Control traffic per node', yLabel: 'bytes/s', series: [{ name: 'control', x: s.second, y: s.controlBytesPerNodePerSecond }] },
      { title: 'Data traffic per node', yLabel: 'bytes/s', series: [{ name: 'data', x: s.second, y: s.dataBytesPerNodePerSecond, color: '#2ca02c' }] }
    ]
  })
}
