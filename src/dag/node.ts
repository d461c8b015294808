/**
 * The DAG's view of an event: only what the algorithms here need. `key` is the hex of the CID
 * bytes (a cheap map key); `author` is the hex of the public key.
 */
export interface DagNode {
  key: string
  cid: Uint8Array
  author: string
  seq: number
  clock: number
  prev: string | null
  parents: string[]
}

/** Every CID a node links to: its prev and its parents, each once. */
export function linksOf(node: DagNode): string[] {
  if (node.prev === null || node.parents.includes(node.prev)) return node.parents
  return [...node.parents, node.prev]
}
