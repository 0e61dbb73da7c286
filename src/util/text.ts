// Checks on text from outside that ends up in headers, logs or JSON.

/** Whether `s` holds a C0 control character or DEL (CR and LF would end a header line). */
export function hasControlChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}
