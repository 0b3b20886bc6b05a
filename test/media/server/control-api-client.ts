/** A test's view of a media server's control API: JSON in and out, with the bearer secret. */
export type ControlApi = (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; json: any }>;

export function controlApi(baseUrl: () => string, secret: string): ControlApi {
  return async (method, path, body, token = secret) => {
    const res = await fetch(baseUrl() + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  };
}
