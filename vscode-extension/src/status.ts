// Text for the status bar item from the server's `gatehouse/status` notification.
// No `vscode` import: unit-tested in node.

export interface GatehouseStatus {
  state: 'checking' | 'idle';
  pending: number;
  packages: number;
  problems: number;
  offline: boolean;
  /** Dependencies with a check that could not be done, and which checks (`advisory 1, age 2`). */
  unchecked: number;
  uncheckedChecks: string;
  /** Dependencies shown with answers whose refresh failed, and the first reason. */
  stale: number;
  staleReason: string;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** `error` when problems were found, `warning` when offline or something could not be checked, else none. */
  tone: 'none' | 'warning' | 'error';
  busy: boolean;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Accepts whatever arrived on the wire and fills gaps with safe values. */
export function parseStatus(raw: unknown): GatehouseStatus {
  const obj = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);
  return {
    state: obj.state === 'checking' ? 'checking' : 'idle',
    pending: num(obj.pending),
    packages: num(obj.packages),
    problems: num(obj.problems),
    offline: obj.offline === true,
    unchecked: num(obj.unchecked),
    uncheckedChecks: typeof obj.uncheckedChecks === 'string' ? obj.uncheckedChecks : '',
    stale: num(obj.stale),
    staleReason: typeof obj.staleReason === 'string' ? obj.staleReason : '',
  };
}

export function statusView(status: GatehouseStatus): StatusView {
  const offline = status.offline ? ' (offline)' : '';
  if (status.state === 'checking') {
    const n = status.pending > 0 ? status.pending : status.packages;
    return {
      text: `$(sync~spin) Gatehouse: checking ${plural(n, 'package')}${offline}`,
      tooltip: `Gatehouse is looking up ${plural(n, 'package')}${status.offline ? ' from the cache and offline databases' : ''}.`,
      tone: status.offline ? 'warning' : 'none',
      busy: true,
    };
  }
  // Unknown is never clean: what could not be checked (or is shown from an old answer) is in the text.
  const incomplete = status.unchecked > 0 || status.stale > 0;
  const icon = status.problems > 0 || incomplete ? '$(warning)' : '$(shield)';
  const notChecked = status.unchecked > 0 ? `, ${status.unchecked} not checked` : '';
  const stale = status.stale > 0 ? `, ${status.stale} stale` : '';
  return {
    text: `${icon} Gatehouse: ${plural(status.problems, 'problem')}${notChecked}${stale}${offline}`,
    tooltip:
      `Gatehouse checked ${plural(status.packages, 'package')} and found ${plural(status.problems, 'problem')}.` +
      (status.unchecked > 0
        ? ` ${plural(status.unchecked, 'package')} could not be fully checked` +
          (status.uncheckedChecks ? ` (${status.uncheckedChecks})` : '') +
          '; hover them for the reason.'
        : '') +
      (status.stale > 0
        ? ` ${plural(status.stale, 'package')} shown from an older answer because the refresh failed` +
          (status.staleReason ? `: ${status.staleReason}` : '') +
          '.'
        : '') +
      (status.offline ? ' Offline: only the cache and offline OSV databases were used.' : '') +
      ' Click to open the Problems panel.',
    tone: status.problems > 0 ? 'error' : status.offline || incomplete ? 'warning' : 'none',
    busy: false,
  };
}
