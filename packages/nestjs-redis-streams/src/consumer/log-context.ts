/** The context every message-related log line carries: `stream=… group=… entry=… eventId=… attempt=…`. */
export function logContext(
  stream: string,
  group: string,
  entryId?: string,
  eventId?: string,
  attempt?: number,
): string {
  let text = `stream=${stream} group=${group}`;
  if (entryId !== undefined) text += ` entry=${entryId}`;
  if (eventId !== undefined) text += ` eventId=${eventId}`;
  if (attempt !== undefined) text += ` attempt=${attempt}`;
  return text;
}
