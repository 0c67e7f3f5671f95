/**
 * JSON.stringify that stops once the text passes `maxChars`: the work is proportional to what is
 * written, not to the value (the journal measures 60 MB bodies this way without copying them).
 * For parsed JSON values (what request bodies are) the complete text is JSON.stringify's.
 */
export function boundedJson(value: unknown, maxChars: number): { text: string; complete: boolean } {
  const parts: string[] = [];
  let length = 0;
  const full = () => length > maxChars;
  const push = (text: string) => {
    parts.push(text);
    length += text.length;
  };
  const write = (node: unknown): void => {
    if (full()) return;
    if (typeof node === 'string') {
      const room = maxChars - length + 1;
      // A long string is quoted only as far as the room left (plus one, to know it did not fit).
      push(node.length > room ? JSON.stringify(node.slice(0, room)).slice(0, -1) : JSON.stringify(node));
    } else if (typeof node !== 'object' || node === null) {
      push(JSON.stringify(node) ?? 'null');
    } else if (Array.isArray(node)) {
      push('[');
      for (let i = 0; i < node.length && !full(); i++) {
        if (i > 0) push(',');
        write(node[i] === undefined || typeof node[i] === 'function' ? null : node[i]);
      }
      push(']');
    } else {
      push('{');
      let first = true;
      for (const key of Object.keys(node)) {
        if (full()) break;
        const child = (node as Record<string, unknown>)[key];
        if (child === undefined || typeof child === 'function') continue;
        push(`${first ? '' : ','}${JSON.stringify(key)}:`);
        first = false;
        write(child);
      }
      push('}');
    }
  };
  write(value);
  const text = parts.join('');
  return full() ? { text: text.slice(0, maxChars), complete: false } : { text, complete: true };
}
