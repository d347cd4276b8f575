import { type CacheDocument, type Json, type JsonObject, isObject, jsonEqual } from './document.js';

/**
 * Records, for every entry of `msal` that differs from `base`, that this library changed it at `now`.
 * Entries that are gone lose their time; untouched entries keep base's.
 */
export function stampChanges(base: CacheDocument, msal: JsonObject, now: number): CacheDocument {
  const updated: Record<string, Record<string, number>> = {};
  for (const [section, entries] of Object.entries(msal)) {
    if (!isObject(entries)) continue;
    const baseEntries = base.msal[section];
    const times: Record<string, number> = {};
    for (const [key, entry] of Object.entries(entries)) {
      const before = isObject(baseEntries) ? baseEntries[key] : undefined;
      const known = base.updated[section]?.[key];
      times[key] = !jsonEqual(before, entry) || known === undefined ? now : known;
    }
    updated[section] = times;
  }
  return { msal, updated };
}

/**
 * Three-way merge per cache entry. `base` is what we read, `ours` what we want to write, `theirs` what is stored
 * now. An entry only one side changed keeps that side's change (a deletion included); an entry both sides changed
 * keeps the newer one, and a deletion by either side survives. Sections and entries of unknown types merge the same
 * way, so nothing written by another MSAL is dropped.
 */
export function mergeDocuments(base: CacheDocument, ours: CacheDocument, theirs: CacheDocument): CacheDocument {
  const msal: JsonObject = {};
  const updated: Record<string, Record<string, number>> = {};
  const sections = new Set([...Object.keys(base.msal), ...Object.keys(ours.msal), ...Object.keys(theirs.msal)]);
  for (const section of sections) {
    const b = base.msal[section];
    const o = ours.msal[section];
    const t = theirs.msal[section];
    if (![b, o, t].every((side) => side === undefined || isObject(side))) {
      // Not a dictionary of entries on every side: treat the whole section as one value.
      const value = pickValue(b, o, t, () => true);
      if (value !== undefined) msal[section] = value;
      continue;
    }
    const [be, oe, te] = [b, o, t].map((side) => (isObject(side) ? side : {})) as [JsonObject, JsonObject, JsonObject];
    const entries: JsonObject = {};
    const times: Record<string, number> = {};
    const keys = new Set([...Object.keys(be), ...Object.keys(oe), ...Object.keys(te)]);
    for (const key of keys) {
      const oursIsNewer = () => isNewer(section, key, ours, oe[key], theirs, te[key]);
      const value = pickValue(be[key], oe[key], te[key], oursIsNewer);
      if (value === undefined) continue;
      entries[key] = value;
      const time = value === oe[key] ? ours.updated[section]?.[key] : theirs.updated[section]?.[key];
      if (time !== undefined) times[key] = time;
    }
    msal[section] = entries;
    updated[section] = times;
  }
  return { msal, updated };
}

function pickValue(
  base: Json | undefined,
  ours: Json | undefined,
  theirs: Json | undefined,
  oursIsNewer: () => boolean,
): Json | undefined {
  const oursChanged = !jsonEqual(base, ours);
  const theirsChanged = !jsonEqual(base, theirs);
  if (!oursChanged) return theirs;
  if (!theirsChanged) return ours;
  if (ours === undefined || theirs === undefined) return undefined;
  return oursIsNewer() ? ours : theirs;
}

function isNewer(
  section: string,
  key: string,
  ours: CacheDocument,
  oursEntry: Json | undefined,
  theirs: CacheDocument,
  theirsEntry: Json | undefined,
): boolean {
  const oursTime = ours.updated[section]?.[key] ?? nativeTime(oursEntry);
  const theirsTime = theirs.updated[section]?.[key] ?? nativeTime(theirsEntry);
  return oursTime >= theirsTime;
}

/** Timestamps MSAL entities carry themselves (seconds), for entries written by an MSAL without our metadata. */
function nativeTime(entry: Json | undefined): number {
  if (!isObject(entry)) return 0;
  const raw = entry.cached_at ?? entry.last_modification_time;
  const seconds = typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  return Number.isFinite(seconds) ? seconds * 1000 : 0;
}

/**
 * On-behalf-of access tokens kept per user, client and scopes: those of the latest incoming tokens (a person's
 * devices each call with their own), the oldest evicted first.
 */
export const MAX_OBO_TOKENS_PER_TARGET = 4;

/**
 * Before every write: removes access tokens that expired before `nowSeconds` (they can never be served), and
 * on-behalf-of access tokens beyond the newest {@link MAX_OBO_TOKENS_PER_TARGET} for the same user, client and
 * scopes. OBO tokens are kept per incoming token (see obo.ts), which callers rotate (hourly with Entra): without
 * this a busy user's document grows by one token per rotation until they expire.
 */
export function pruneDocument(doc: CacheDocument, nowSeconds: number): CacheDocument {
  const tokens = doc.msal.AccessToken;
  if (!isObject(tokens)) return doc;
  const kept: JsonObject = {};
  const oboGroups = new Map<string, { key: string; time: number }[]>();
  for (const [key, entry] of Object.entries(tokens)) {
    const expiresOn = isObject(entry) ? Number(entry.expires_on) : NaN;
    if (Number.isFinite(expiresOn) && expiresOn < nowSeconds) continue;
    kept[key] = entry;
    if (isObject(entry) && typeof entry.userAssertionHash === 'string' && entry.userAssertionHash) {
      const target = typeof entry.target === 'string' ? entry.target.toLowerCase() : '';
      const group = JSON.stringify([entry.home_account_id, entry.client_id, entry.realm, target]);
      const time = doc.updated.AccessToken?.[key] ?? nativeTime(entry);
      oboGroups.set(group, [...(oboGroups.get(group) ?? []), { key, time }]);
    }
  }
  for (const group of oboGroups.values()) {
    group.sort((a, b) => b.time - a.time);
    for (const { key } of group.slice(MAX_OBO_TOKENS_PER_TARGET)) delete kept[key];
  }
  if (Object.keys(kept).length === Object.keys(tokens).length) return doc;
  const times = { ...doc.updated.AccessToken };
  for (const key of Object.keys(times)) if (!(key in kept)) delete times[key];
  return { msal: { ...doc.msal, AccessToken: kept }, updated: { ...doc.updated, AccessToken: times } };
}
