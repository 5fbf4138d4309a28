/// The OpenAPI 3.1 description served at `/openapi.json`, and the `/docs` page that renders it.
/// Kept as text so it is exactly what clients get; a unit test checks it covers every route.
enum OpenAPIDocument {
    static let json: String = #"""
        {
          "openapi": "3.1.0",
          "info": {"title": "RickMortyLab API", "version": "0.1.0",
                   "description": "Human, alive characters from an origin named Earth (…), ingested from the Rick and Morty API."},
          "paths": {
            "/characters": {
              "get": {
                "summary": "A sorted, paginated page of stored characters",
                "operationId": "listCharacters",
                "parameters": [
                  {"name": "sort", "in": "query", "schema": {"type": "string", "enum": ["id", "name"], "default": "id"}},
                  {"name": "order", "in": "query", "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"}},
                  {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1}},
                  {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                  {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}}
                ],
                "responses": {
                  "200": {"description": "A page", "headers": {"ETag": {"$ref": "#/components/headers/ETag"},
                          "Cache-Control": {"$ref": "#/components/headers/CacheControl"},
                          "X-Request-ID": {"$ref": "#/components/headers/RequestID"}},
                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CharacterPage"}}}},
                  "304": {"description": "Not modified (the ETag matched)", "headers": {"ETag": {"$ref": "#/components/headers/ETag"}}},
                  "422": {"$ref": "#/components/responses/Invalid"},
                  "429": {"$ref": "#/components/responses/RateLimited"},
                  "500": {"$ref": "#/components/responses/ServerError"},
                  "503": {"$ref": "#/components/responses/Unavailable"}
                }
              }
            },
            "/healthz": {"get": {"summary": "Liveness", "operationId": "liveness",
              "responses": {"200": {"description": "The process answers", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}}}}},
            "/readyz": {"get": {"summary": "Readiness", "operationId": "readiness",
              "responses": {"200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
                            "503": {"$ref": "#/components/responses/Unavailable"}}}},
            "/ready": {"get": {"summary": "Readiness (alias of /readyz)", "operationId": "readinessAlias",
              "responses": {"200": {"description": "Ready", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Status"}}}},
                            "503": {"$ref": "#/components/responses/Unavailable"}}}},
            "/healthcheck": {"get": {"summary": "Deep health with per-dependency detail", "operationId": "healthcheck",
              "responses": {"200": {"description": "ok or degraded", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}},
                            "503": {"description": "down: the database is unreachable", "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
              "responses": {"200": {"description": "Text exposition format 0.0.4", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
              "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
            "/docs": {"get": {"summary": "A page describing this API", "operationId": "docs",
              "responses": {"200": {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}}}},
            "/": {"get": {"summary": "Redirect to /docs", "operationId": "root",
              "responses": {"307": {"description": "To /docs", "headers": {"Location": {"schema": {"type": "string"}}}}}}}
          },
          "components": {
            "headers": {
              "ETag": {"description": "Strong validator of the page", "schema": {"type": "string"}},
              "CacheControl": {"description": "public, max-age=<seconds the page cache still holds it>", "schema": {"type": "string"}},
              "RequestID": {"description": "Echoed or generated request id", "schema": {"type": "string"}},
              "RetryAfter": {"description": "Seconds to wait before retrying", "schema": {"type": "integer", "minimum": 0}},
              "RateLimitLimit": {"description": "Requests allowed in a burst", "schema": {"type": "integer"}},
              "RateLimitRemaining": {"description": "Requests left now", "schema": {"type": "integer"}},
              "RateLimitReset": {"description": "Seconds until a request is allowed", "schema": {"type": "integer"}}
            },
            "responses": {
              "Invalid": {"description": "A query parameter failed validation",
                          "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
              "RateLimited": {"description": "The per-client rate limit is exceeded",
                              "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"},
                                          "RateLimit-Limit": {"$ref": "#/components/headers/RateLimitLimit"},
                                          "RateLimit-Remaining": {"$ref": "#/components/headers/RateLimitRemaining"},
                                          "RateLimit-Reset": {"$ref": "#/components/headers/RateLimitReset"}},
                              "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
              "Unavailable": {"description": "The database is unavailable or the instance is not ready",
                              "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                              "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
              "ServerError": {"description": "Unexpected failure; the cause is logged with the request id",
                              "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            },
            "schemas": {
              "Character": {"type": "object", "required": ["id", "name", "status", "species", "origin", "image", "url"],
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}, "status": {"type": "string"},
                               "species": {"type": "string"}, "origin": {"type": "string"},
                               "image": {"type": ["string", "null"]}, "url": {"type": ["string", "null"]}}},
              "CharacterPage": {"type": "object",
                "required": ["page", "page_size", "total_count", "total_pages", "has_prev", "has_next", "out_of_range", "results"],
                "properties": {"page": {"type": "integer"}, "page_size": {"type": "integer"}, "total_count": {"type": "integer"},
                               "total_pages": {"type": "integer"}, "has_prev": {"type": "boolean"}, "has_next": {"type": "boolean"},
                               "out_of_range": {"type": "boolean"},
                               "results": {"type": "array", "items": {"$ref": "#/components/schemas/Character"}}}},
              "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
              "Health": {"type": "object",
                "required": ["status", "upstream_ok", "db_ok", "character_count", "last_refresh_age", "checks"],
                "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "down"]},
                               "upstream_ok": {"type": "boolean"}, "db_ok": {"type": "boolean"},
                               "character_count": {"type": "integer"}, "last_refresh_age": {"type": ["number", "null"]},
                               "checks": {"type": "object"}}},
              "Problem": {"type": "object", "required": ["type", "title", "status", "detail", "instance"],
                "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                               "detail": {"type": "string"}, "instance": {"type": "string"}}}
            }
          }
        }
        """#

    /// A self-contained page (no CDN: the lab runs offline) that lists every operation.
    static let docsPage: String = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>RickMortyLab API</title>
        <style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}
        code{background:#f3f3f3;padding:0 .2rem}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .5rem}
        h2{font-size:1.1rem;margin-top:2rem}</style></head>
        <body><h1>RickMortyLab API</h1><p>Machine-readable description: <a href="/openapi.json">/openapi.json</a></p>
        <div id="ops">Loading…</div>
        <script>
        fetch('/openapi.json').then(r => r.json()).then(spec => {
          const out = [];
          for (const [path, item] of Object.entries(spec.paths)) {
            for (const [method, op] of Object.entries(item)) {
              out.push(`<h2><code>${method.toUpperCase()} ${path}</code> — ${op.summary}</h2>`);
              if (op.parameters) {
                out.push('<table><tr><th>parameter</th><th>in</th><th>schema</th></tr>' + op.parameters.map(p =>
                  `<tr><td>${p.name}</td><td>${p.in}</td><td><code>${JSON.stringify(p.schema)}</code></td></tr>`).join('') + '</table>');
              }
              out.push('<p>Responses: ' + Object.keys(op.responses).map(s => `<code>${s}</code>`).join(' ') + '</p>');
            }
          }
          document.getElementById('ops').innerHTML = out.join('');
        });
        </script></body></html>
        """#
}
