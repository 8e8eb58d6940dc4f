import type { FlowState } from '@redis-streams-alerts/nestjs-redis-streams';

/**
 * A group's flow state in a few words: `flowing`, or what holds it (`paused`, `busy until ...`,
 * `circuit open, next probe ...`); `-` for a group no handler of this service consumes.
 */
export function describeFlow(flow: FlowState | undefined): string {
  if (!flow) return '-';
  const held = [
    ...(flow.paused ? ['paused'] : []),
    ...(flow.busyUntil ? [`busy until ${flow.busyUntil}`] : []),
    ...(flow.circuit === 'open'
      ? [`circuit open${flow.nextProbeAt ? `, next probe ${flow.nextProbeAt}` : ''}`]
      : []),
  ];
  return held.length > 0 ? held.join('; ') : 'flowing';
}
