/// The OpenAPI 3.1 description served at `/openapi.json` (``DocsPage`` renders it for `/docs`).
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
                "description": "Human, Alive characters whose origin is named Earth (…). A page in the page cache is still served while the database is down.",
                "operationId": "listCharacters",
                "parameters": [
                  {"name": "sort", "in": "query", "description": "Sort key: id, or name in byte order with ties broken by id.",
                   "schema": {"type": "string", "enum": ["id", "name"], "default": "id"}},
                  {"name": "order", "in": "query", "description": "Sort direction.",
                   "schema": {"type": "string", "enum": ["asc", "desc"], "default": "asc"}},
                  {"name": "page", "in": "query", "description": "Page number, ASCII digits only; past the last page the results are empty.",
                   "schema": {"type": "integer", "minimum": 1, "maximum": 1000000, "default": 1}},
                  {"name": "page_size", "in": "query", "description": "Characters per page, ASCII digits only.",
                   "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                  {"name": "If-None-Match", "in": "header", "description": "An ETag from an earlier answer: 304 when the page is unchanged.",
                   "schema": {"type": "string"}},
                  {"name": "X-Request-ID", "in": "header", "description": "Echoed in the response and the logs when 1 to 128 visible ASCII characters.",
                   "schema": {"type": "string"}}
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
}
