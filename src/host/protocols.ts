// Protocol ids Peernet speaks on libp2p. Peernet's DHT runs under its own prefix so it
// forms its own overlay, apart from the public IPFS DHT (joined only with --public-dht).

export const PEERNET_KAD_PROTOCOL = '/peernet/kad/1.0.0'
export const PUBLIC_KAD_PROTOCOL = '/ipfs/kad/1.0.0'
export const PEERNET_VERSION = '0.1.0'
export const PEERNET_AGENT = `peernet/${PEERNET_VERSION}`

/** Well-known public IPFS bootstrap peers, dialled only with --public-dht. */
export const PUBLIC_DHT_BOOTSTRAP: readonly string[] = [
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
  '/dnsaddr/bootstrap.libp2p.io/p2p/QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
  '/ip4/104.131.131.82/tcp/4001/p2p/QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
]
