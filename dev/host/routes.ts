/**
 * Azure Functions route templates (`users/{id}`, `files/{*path}`, `items/{id?}`, `{id:int}`) matched the way the
 * host does: case-insensitively, segment by segment. Constraints are accepted but not enforced here.
 */
export interface CompiledRoute {
  readonly template: string;
  match(path: string): Record<string, string> | undefined;
}

type Segment = { literal: string } | { param: string; optional: boolean; catchAll: boolean };

export function compileRoute(template: string): CompiledRoute {
  const segments: Segment[] = template
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      const param = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?(\?)?\}$/.exec(s);
      if (!param) return { literal: s.toLowerCase() };
      return { param: param[2] ?? '', optional: param[3] === '?', catchAll: param[1] === '*' };
    });
  return {
    template,
    match(path) {
      const parts = path.split('/').filter((p) => p.length > 0);
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i]!;
        const part = parts[i];
        if ('literal' in segment) {
          if (part === undefined || part.toLowerCase() !== segment.literal) return undefined;
        } else if (segment.catchAll) {
          params[segment.param] = parts.slice(i).map(decodeURIComponent).join('/');
          return params;
        } else if (part === undefined) {
          if (!segment.optional) return undefined;
        } else {
          params[segment.param] = decodeURIComponent(part);
        }
      }
      return parts.length <= segments.length ? params : undefined;
    },
  };
}
