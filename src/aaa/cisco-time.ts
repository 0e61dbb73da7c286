// Cisco VSA time text (Cisco "RADIUS VSA Voice Implementation Guide", h323-setup-time and
// friends): `hh:mm:ss.mmm UTC Ddd Mmm dd yyyy`, e.g. `14:02:32.050 UTC Tue Nov 24 2026`.

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Formats epoch milliseconds as Cisco time text in UTC. */
export function ciscoTime(epochMs: number): string {
  const d = new Date(epochMs);
  const p2 = (n: number) => String(n).padStart(2, "0");
  return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.` +
    `${String(d.getUTCMilliseconds()).padStart(3, "0")} UTC ${DAYS[d.getUTCDay()]} ` +
    `${MONTHS[d.getUTCMonth()]} ${p2(d.getUTCDate())} ${d.getUTCFullYear()}`;
}
