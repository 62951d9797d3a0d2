// A tiny SVG writer for simulator results, with no dependencies: stacked line panels
// sharing one x axis (metrics over time), and grouped bars (one value per scenario).
// Plain SVG 1.1, system fonts, so any browser or image viewer shows it.

export interface LineSeries {
  name: string
  /** x values (shared axis) and y values, same length; NaN leaves a gap. */
  x: ArrayLike<number>
  y: ArrayLike<number>
  color?: string
}

export interface LinePanel {
  title: string
  yLabel: string
  series: LineSeries[]
  /** Fixed y range; by default 0 .. the largest value. */
  yMin?: number
  yMax?: number
}

export interface LineChartOptions {
  title: string
  xLabel: string
  panels: LinePanel[]
  /** Vertical markers on every panel (e.g. events). */
  markers?: ArrayLike<number>
  width?: number
  panelHeight?: number
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']
const FONT = 'font-family="sans-serif"'

export function escapeXml (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Short tick label: 1234 → 1.2k, 0.9991 → 0.999. */
export function tickLabel (v: number): string {
  const a = Math.abs(v)
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`
  if (a >= 1e4) return `${+(v / 1e3).toFixed(0)}k`
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`
  if (a >= 1 || a === 0) return `${+v.toFixed(2)}`
  return `${+v.toPrecision(3)}`
}

/** About `count` round tick values covering [lo, hi]. */
export function ticks (lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12))
  return out
}

export function lineChart (o: LineChartOptions): string {
  const width = o.width ?? 760
  const ph = o.panelHeight ?? 180
  const left = 70
  const right = 150
  const top = 36
  const gap = 40
  const plotW = width - left - right
  const height = top + o.panels.length * (ph + gap) + 20
  let xMin = Infinity
  let xMax = -Infinity
  for (const p of o.panels) {
    for (const s of p.series) {
      for (let i = 0; i < s.x.length; i++) {
        const v = s.x[i] ?? NaN
        if (Number.isFinite(v)) {
          xMin = Math.min(xMin, v)
          xMax = Math.max(xMax, v)
        }
      }
    }
  }
  if (!Number.isFinite(xMin)) { xMin = 0; xMax = 1 }
  if (xMax === xMin) xMax = xMin + 1
  const sx = (v: number): number => left + (v - xMin) / (xMax - xMin) * plotW
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" ${FONT}>${escapeXml(o.title)}</text>`
  ]
  o.panels.forEach((p, k) => {
    const y0 = top + k * (ph + gap)
    let lo = p.yMin ?? 0
    let hi = p.yMax ?? -Infinity
    if (p.yMax === undefined) {
      for (const s of p.series) for (let i = 0; i < s.y.length; i++) if (Number.isFinite(s.y[i])) hi = Math.max(hi, s.y[i] ?? 0)
      if (!Number.isFinite(hi) || hi <= lo) hi = lo + 1
    }
    if (p.yMin === undefined) {
      for (const s of p.series) for (let i = 0; i < s.y.length; i++) if (Number.isFinite(s.y[i])) lo = Math.min(lo, s.y[i] ?? 0)
    }
    const sy = (v: number): number => y0 + ph - (v - lo) / (hi - lo) * ph
    parts.push(`<text x="${left}" y="${y0 - 6}" font-size="12" font-weight="bold" ${FONT}>${escapeXml(p.title)}</text>`)
    parts.push(`<rect x="${left}" y="${y0}" width="${plotW}" height="${ph}" fill="none" stroke="#888"/>`)
    for (const t of ticks(lo, hi, 4)) {
      parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/>`)
      parts.push(`<text x="${left - 5}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="10" ${FONT}>${tickLabel(t)}</text>`)
    }
    parts.push(`<text transform="translate(14 ${y0 + ph / 2}) rotate(-90)" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(p.yLabel)}</text>`)
    for (const t of ticks(xMin, xMax, 8)) {
      parts.push(`<text x="${sx(t).toFixed(1)}" y="${y0 + ph + 13}" text-anchor="middle" font-size="10" ${FONT}>${tickLabel(t)}</text>`)
    }
    const markers = o.markers ?? []
    for (let i = 0; i < markers.length; i++) {
      const m = markers[i] ?? NaN
      if (m >= xMin && m <= xMax) parts.push(`<line x1="${sx(m).toFixed(1)}" x2="${sx(m).toFixed(1)}" y1="${y0}" y2="${y0 + ph}" stroke="#f4b942" stroke-opacity="0.35"/>`)
    }
    p.series.forEach((s, j) => {
      const color = s.color ?? COLORS[j % COLORS.length] ?? '#000'
      let d = ''
      let pen = false
      for (let i = 0; i < s.x.length; i++) {
        const x = s.x[i] ?? NaN
        const y = s.y[i] ?? NaN
        if (!Number.isFinite(x) || !Number.isFinite(y)) { pen = false; continue }
        d += `${pen ? 'L' : 'M'}${sx(x).toFixed(1)} ${sy(Math.min(hi, Math.max(lo, y))).toFixed(1)}`
        pen = true
      }
      parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.5"/>`)
      parts.push(`<rect x="${left + plotW + 10}" y="${y0 + 8 + j * 16}" width="10" height="10" fill="${color}"/>`)
      parts.push(`<text x="${left + plotW + 24}" y="${y0 + 17 + j * 16}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`)
    })
  })
  const last = top + o.panels.length * (ph + gap) - gap + 28
  parts.push(`<text x="${left + plotW / 2}" y="${last}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(o.xLabel)}</text>`)
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}

export interface BarChartOptions {
  title: string
  yLabel: string
  /** Category labels (x axis). */
  categories: string[]
  /** One bar per series in each category. */
  series: Array<{ name: string, values: ArrayLike<number>, color?: string }>
  width?: number
  height?: number
}

export function barChart (o: BarChartOptions): string {
  const width = o.width ?? 640
  const height = o.height ?? 320
  const left = 70
  const right = 150
  const top = 36
  const bottom = 50
  const plotW = width - left - right
  const plotH = height - top - bottom
  let hi = 0
  for (const s of o.series) for (let i = 0; i < s.values.length; i++) if (Number.isFinite(s.values[i])) hi = Math.max(hi, s.values[i] ?? 0)
  if (hi <= 0) hi = 1
  const sy = (v: number): number => top + plotH - v / hi * plotH
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" ${FONT}>${escapeXml(o.title)}</text>`,
    `<text transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(o.yLabel)}</text>`
  ]
  for (const t of ticks(0, hi, 4)) {
    parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#eee"/>`)
    parts.push(`<text x="${left - 5}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="10" ${FONT}>${tickLabel(t)}</text>`)
  }
  const groupW = plotW / Math.max(1, o.categories.length)
  const barW = groupW * 0.8 / Math.max(1, o.series.length)
  o.categories.forEach((c, i) => {
    parts.push(`<text x="${(left + groupW * (i + 0.5)).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle" font-size="11" ${FONT}>${escapeXml(c)}</text>`)
    o.series.forEach((s, j) => {
      const v = s.values[i] ?? NaN
      if (!Number.isFinite(v)) return
      const x = left + groupW * i + groupW * 0.1 + j * barW
      parts.push(`<rect x="${x.toFixed(1)}" y="${sy(v).toFixed(1)}" width="${barW.toFixed(1)}" height="${(top + plotH - sy(v)).toFixed(1)}" fill="${s.color ?? COLORS[j % COLORS.length] ?? '#000'}"><title>${escapeXml(`${s.name}: ${v}`)}</title></rect>`)
    })
  })
  parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#888"/>`)
  o.series.forEach((s, j) => {
    parts.push(`<rect x="${left + plotW + 10}" y="${top + 8 + j * 16}" width="10" height="10" fill="${s.color ?? COLORS[j % COLORS.length] ?? '#000'}"/>`)
    parts.push(`<text x="${left + plotW + 24}" y="${top + 17 + j * 16}" font-size="11" ${FONT}>${escapeXml(s.name)}</text>`)
  })
  parts.push('</svg>')
  return parts.join('\n') + '\n'
}
