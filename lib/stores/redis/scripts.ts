import { createHash } from 'node:crypto';

/** The Lua scripts of the Redis store: each changes a document and its index entries in one atomic step. */

/**
 * Conditional write. KEYS: document, key index, expiry index. ARGV: ETag to match (`''`: create-only), new ETag,
 * data, partition key, updatedAt, expiresAt (`''`: none), min TTL, document key prefix. Returns 1, or 0 on a
 * conflict. Numbers go through `%.0f`: Lua's default number format has 14 significant digits.
 */
const WRITE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'etag')
if ARGV[1] == '' then
  if current then return 0 end
elseif current ~= ARGV[1] then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local minTtl = tonumber(ARGV[7])
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'etag', ARGV[2], 'key', ARGV[4], 'updatedAt', ARGV[5])
if ARGV[6] == '' then
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  local expiresAt = tonumber(ARGV[6])
  redis.call('HSET', KEYS[1], 'expiresAt', ARGV[6])
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.max(expiresAt, now + minTtl)))
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
end
redis.call('ZADD', KEYS[2], 0, ARGV[4])
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. string.format('%.0f', now - minTtl), 'LIMIT', 0, 8)
for _, key in ipairs(stale) do
  if redis.call('EXISTS', ARGV[8] .. key) == 0 then
    redis.call('ZREM', KEYS[2], key)
    redis.call('ZREM', KEYS[3], key)
  end
end
return 1
`;

/**
 * Delete. KEYS: document, key index, expiry index. ARGV: ETag to match (`''`: unconditional), partition key.
 * Returns 1 (deleted), 0 (there was none) or -1 (conflict).
 */
const DELETE_SCRIPT = `
local current = redis.call('HGET', KEYS[1], 'etag')
if ARGV[1] ~= '' and current ~= ARGV[1] then return -1 end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
if not current then return 0 end
redis.call('DEL', KEYS[1])
return 1
`;

/**
 * One page of a listing. KEYS: key index, expiry index. ARGV: document key prefix, mode (`k`: walk the key index
 * from `[prefix`; `e`: walk the expiry index up to `expiredBefore`), page size, most entries to examine, prefix,
 * expiredBefore (`''`: none), cursor key (`''`: start), cursor score (mode `e`).
 *
 * Returns `{cursorKey, cursorScore, key1, etag1, updatedAt1, expiresAt1, ...}`; the cursor is `''` at the end.
 * Entries whose document is gone (expired natively, evicted) are skipped and removed from both indexes.
 *
 * The cursor of mode `e` is (score, key): sorted sets order equal scores by key bytes, and the keys at the cursor's
 * score up to the cursor key are skipped. They are compared byte by byte: Lua's own string comparison follows the
 * server's collation locale, not the byte order the sorted set uses.
 */
const LIST_SCRIPT = `
local docPrefix, mode = ARGV[1], ARGV[2]
local pageSize, budget = tonumber(ARGV[3]), tonumber(ARGV[4])
local prefix, before = ARGV[5], tonumber(ARGV[6])
local cursor, cursorScore = ARGV[7], tonumber(ARGV[8])
local result = {'', ''}
local found, examined, done = 0, 0, false
local last, lastScore = nil, ''
local stale = {}

local function atOrBeforeCursor(key)
  local n = math.min(#key, #cursor)
  for i = 1, n do
    local a, b = string.byte(key, i), string.byte(cursor, i)
    if a ~= b then return a < b end
  end
  return #key <= #cursor
end

local function consider(key)
  examined = examined + 1
  last = key
  if prefix ~= '' and string.sub(key, 1, #prefix) ~= prefix then return end
  local fields = redis.call('HMGET', docPrefix .. key, 'etag', 'updatedAt', 'expiresAt')
  if not fields[1] then
    stale[#stale + 1] = key
    return
  end
  if before then
    local expiresAt = tonumber(fields[3] or '')
    if not expiresAt or expiresAt >= before then return end
  end
  result[#result + 1] = key
  result[#result + 1] = fields[1]
  result[#result + 1] = fields[2] or ''
  result[#result + 1] = fields[3] or ''
  found = found + 1
end

if mode == 'k' then
  local min = '-'
  if cursor ~= '' then min = '(' .. cursor elseif prefix ~= '' then min = '[' .. prefix end
  local max = '+'
  if prefix ~= '' then max = '(' .. prefix .. '\\255' end
  while found < pageSize and examined < budget do
    local want = math.min(pageSize - found, budget - examined)
    local batch = redis.call('ZRANGEBYLEX', KEYS[1], min, max, 'LIMIT', 0, want)
    for _, key in ipairs(batch) do consider(key) end
    if #batch < want then done = true break end
    min = '(' .. last
  end
  if not done and redis.call('ZRANGEBYLEX', KEYS[1], '(' .. last, max, 'LIMIT', 0, 1)[1] == nil then done = true end
else
  local min = '-inf'
  if ARGV[8] ~= '' then min = ARGV[8] end
  local max = '(' .. ARGV[6]
  local offset = 0
  while found < pageSize and examined < budget do
    local want = math.min(pageSize - found, budget - examined)
    local batch = redis.call('ZRANGEBYSCORE', KEYS[2], min, max, 'WITHSCORES', 'LIMIT', offset, want)
    for i = 1, #batch, 2 do
      offset = offset + 1
      local key, score = batch[i], batch[i + 1]
      if not (cursorScore and tonumber(score) == cursorScore and atOrBeforeCursor(key)) then
        lastScore = score
        consider(key)
      end
    end
    if #batch < 2 * want then done = true break end
  end
  if not done and redis.call('ZRANGEBYSCORE', KEYS[2], min, max, 'LIMIT', offset, 1)[1] == nil then done = true end
  if last == nil then done = true end
end

for _, key in ipairs(stale) do
  redis.call('ZREM', KEYS[1], key)
  redis.call('ZREM', KEYS[2], key)
end
if not done then
  result[1] = last
  result[2] = lastScore
end
return result
`;

/**
 * Conditional read. KEYS: document. ARGV: the ETag the caller has. Returns nil (no document), `{etag}` (unchanged:
 * the data is not sent) or `{etag, data}`.
 */
const READ_IF_CHANGED_SCRIPT = `
local etag = redis.call('HGET', KEYS[1], 'etag')
if not etag then return false end
if etag == ARGV[1] then return {etag} end
return {etag, redis.call('HGET', KEYS[1], 'data')}
`;

export interface LuaScript {
  readonly source: string;
  readonly sha1: string;
}

function luaScript(source: string): LuaScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

export const SCRIPTS = {
  readIfChanged: luaScript(READ_IF_CHANGED_SCRIPT),
  write: luaScript(WRITE_SCRIPT),
  delete: luaScript(DELETE_SCRIPT),
  list: luaScript(LIST_SCRIPT),
};
