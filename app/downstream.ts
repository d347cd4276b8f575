/** A downstream API call failed; `status` is the downstream's HTTP status when it answered. */
export class DownstreamError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DownstreamError';
    this.status = status;
  }
}

/** GETs a JSON resource with a bearer token. Throws {@link DownstreamError} with a reason safe to return. */
export async function callDownstream(url: string, accessToken: string, timeoutMs = 10_000): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    throw new DownstreamError(`downstream API ${new URL(url).host} is unreachable`, undefined, { cause });
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DownstreamError(`downstream API answered HTTP ${response.status}`, response.status);
  }
  try {
    const body: unknown = await response.json();
    return body;
  } catch (cause) {
    throw new DownstreamError('downstream API answered with a body that is not JSON', response.status, { cause });
  }
}
