/** Claims challenges through the entry point only: the header forms of the Microsoft Entra documentation. */
import { describe, expect, it } from 'vitest';
import {
  MAX_CLAIMS_LENGTH,
  formatClaimsChallenge,
  hasClientCapability,
  hasErrorCode,
  parseClaimsChallenge,
} from '../../lib/index.js';

const NBF = '{"access_token":{"nbf":{"essential":true, "value":"1604106651"}}}';
const ACRS = '{"access_token":{"acrs":{"essential":true,"value":"cp1"}}}';
const b64 = (text: string) => Buffer.from(text).toString('base64');
const b64url = (text: string) => Buffer.from(text).toString('base64url');

function refusal(header: string): unknown {
  try {
    parseClaimsChallenge(header);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('parseClaimsChallenge', () => {
  it('reads the forms the Entra documentation shows', () => {
    const authorize = 'https://login.microsoftonline.com/common/oauth2/authorize';
    const cases: [string, string, { authorizationUri?: string; realm?: string }][] = [
      // Claims challenges article: realm, authorization_uri, error, claims (padded base64).
      [
        `Bearer realm="", authorization_uri="${authorize}", error="insufficient_claims", claims="${b64(ACRS)}"`,
        ACRS,
        { authorizationUri: authorize, realm: '' },
      ],
      // The same with an empty authorization_uri.
      [
        `Bearer realm="", authorization_uri="", error="insufficient_claims", claims="${b64(ACRS)}"`,
        ACRS,
        { realm: '' },
      ],
      // CAE article: no realm, the parameters on lines of their own (folded to spaces).
      [
        `Bearer authorization_uri="https://login.windows.net/common/oauth2/authorize",\n  error="insufficient_claims",\n  claims="${b64(NBF)}"`,
        NBF,
        { authorizationUri: 'https://login.windows.net/common/oauth2/authorize' },
      ],
      // Microsoft Graph: with client_id, and a tenant realm.
      [
        `Bearer realm="contoso.com", authorization_uri="${authorize}", client_id="00000003-0000-0000-c000-000000000000", error="insufficient_claims", claims="${b64(NBF)}"`,
        NBF,
        { authorizationUri: authorize, realm: 'contoso.com' },
      ],
      // Any order and case, unquoted error, base64url without padding.
      [`bearer CLAIMS="${b64url(NBF)}", Error=insufficient_claims`, NBF, {}],
      // Several challenges in one value, as Headers.get joins repeated headers.
      [`Basic realm="api", Bearer error="insufficient_claims", claims="${b64(NBF)}"`, NBF, {}],
      [`Negotiate, PoP nonce="abc", Bearer error="insufficient_claims", claims="${b64(NBF)}"`, NBF, {}],
      [`Negotiate YIIabc==, Bearer claims="${b64(NBF)}", error="insufficient_claims"`, NBF, {}],
      [`Bearer error="invalid_token", Bearer error="insufficient_claims", claims="${b64(NBF)}"`, NBF, {}],
    ];
    for (const [header, claims, rest] of cases) {
      expect(parseClaimsChallenge(header), header).toEqual({ claims, ...rest });
    }
  });

  it('answers undefined for anything but a Bearer insufficient_claims challenge', () => {
    for (const header of [
      null,
      undefined,
      '',
      'Bearer error="invalid_token", error_description="The token is expired."',
      'Bearer realm=""',
      'Bearer',
      `Basic realm="x", error="insufficient_claims", claims="${b64(NBF)}"`,
      'Bearer realm="unterminated',
      'not a challenge at all ,,, =',
    ]) {
      expect(parseClaimsChallenge(header), String(header)).toBeUndefined();
    }
  });

  it('refuses a claims challenge it cannot use, with code invalid_claims and a reason', () => {
    const cases: [string, RegExp][] = [
      ['Bearer error="insufficient_claims"', /no claims parameter/],
      ['Bearer error="insufficient_claims", claims=""', /no claims parameter/],
      ['Bearer error="insufficient_claims", claims="not base64!"', /not base64/],
      ['Bearer error="insufficient_claims", claims="ab+c_d"', /not base64/],
      [`Bearer error="insufficient_claims", claims="${b64('not json')}"`, /not JSON/],
      [`Bearer error="insufficient_claims", claims="${b64('[1]')}"`, /not a JSON object/],
      [`Bearer error="insufficient_claims", claims="${b64('null')}"`, /not a JSON object/],
      [`Bearer error="insufficient_claims", claims="${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64')}"`, /UTF-8/],
      [`Bearer error="insufficient_claims", claims="${b64(`{"a":"${'x'.repeat(MAX_CLAIMS_LENGTH)}"}`)}"`, /longer/],
      [`Bearer error="insufficient_claims", claims="${b64(NBF)}`, /not a well-formed/],
      [`Bearer error="insufficient_claims", error="insufficient_claims", claims="${b64(NBF)}"`, /not a well-formed/],
      [`Bearer error="insufficient_claims" claims="${b64(NBF)}"`, /not a well-formed/],
      [`Bearer error="insufficient_claims", x="${'y'.repeat(20_000)}"`, /longer than/],
    ];
    for (const [header, reason] of cases) {
      const error = refusal(header);
      expect(hasErrorCode(error, 'invalid_claims'), header.slice(0, 80)).toBe(true);
      expect((error as Error).message, header.slice(0, 80)).toMatch(reason);
    }
  });
});

describe('formatClaimsChallenge', () => {
  it('writes the documented form, which parseClaimsChallenge reads back', () => {
    const header = formatClaimsChallenge({
      claims: NBF,
      authorizationUri: 'https://login.microsoftonline.com/t/oauth2/v2.0/authorize',
      description: 'say "again"',
    });
    expect(header).toBe(
      `Bearer realm="", authorization_uri="https://login.microsoftonline.com/t/oauth2/v2.0/authorize", ` +
        `error="insufficient_claims", error_description="say 'again'", claims="${b64(NBF)}"`,
    );
    expect(parseClaimsChallenge(header)).toEqual({
      claims: NBF,
      authorizationUri: 'https://login.microsoftonline.com/t/oauth2/v2.0/authorize',
      realm: '',
    });
    expect(() => formatClaimsChallenge({ claims: 'nope' })).toThrow(
      expect.objectContaining({ code: 'invalid_claims' }),
    );
  });
});

describe('hasClientCapability', () => {
  it('reads xms_cc as a list or a single value, case-insensitively', () => {
    expect(hasClientCapability({ xms_cc: ['cp1'] }, 'cp1')).toBe(true);
    expect(hasClientCapability({ xms_cc: ['CP1', 'cp2'] }, 'cp1')).toBe(true);
    expect(hasClientCapability({ xms_cc: 'cp1' }, 'cp1')).toBe(true);
    expect(hasClientCapability({ xms_cc: ['cp2'] }, 'cp1')).toBe(false);
    expect(hasClientCapability({ xms_cc: [1] }, 'cp1')).toBe(false);
    expect(hasClientCapability({}, 'cp1')).toBe(false);
  });
});
