/**
 * Event descriptors in both directions: which ones are wildcards, the order xState tries them in,
 * and which cover which (SCXML's prefix matching as xState wildcards).
 */
export const isWildcard = (ev: string): boolean => ev === '*' || ev.endsWith('.*')

/** xState's order of candidates: exact types first, then wildcards, longest first (stable). */
export function priorityOrder(events: string[]): string[] {
  return [...events.filter((e) => !isWildcard(e)), ...events.filter(isWildcard).sort((a, b) => b.length - a.length)]
}

/** Whether descriptor `d` matches every event type `k` matches. */
export function covers(d: string, k: string): boolean {
  if (d === k || d === '*') return true
  if (!isWildcard(d)) return false
  const p = d.slice(0, -2)
  return k === p || k.startsWith(`${p}.`)
}
