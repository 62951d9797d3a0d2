// Peernet's library API: the node in one call, and the types and errors its users see.

export { createPeernet, initHome } from './node.ts'
export type { Peernet, PeernetOptions, PeernetEvent, PeernetEventListener, NodeStatus, InitResult } from './node.ts'
export type { ConnectedPeer } from './host/host.ts'
export type { PeernetConfig } from './core/config.ts'
export { DEFAULT_CONFIG } from './core/config.ts'
export { resolveHome } from './core/home.ts'
export { createLogger } from './core/log.ts'
export type { Logger, LogLevel } from './core/log.ts'
export { ApiClient } from './api/client.ts'
export * from './core/errors.ts'
export type { AccountView, DeviceView } from './networks/account-devices.ts'
