import Foundation
import JSONWriting
import NIOHTTP1

/// The `/docs` page: ``OpenAPIDocument`` rendered to HTML once, on the server, so it reads the
/// same with JavaScript off and needs nothing from the network. Every route with its parameters
/// (type, range, allowed values, default), every response with its description, headers and
/// body fields. Laid out for a phone as well as a desktop.
enum DocsPage {
    static let html: String = Self.render(OpenAPIDocument.json)

    /// Renders an OpenAPI document; routes in ``Route`` order, then any others.
    static func render(_ json: String) -> String {
        guard let spec = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else {
            return Self.page(title: "API", body: "<p>The API description could not be read.</p>")
        }
        let resolver = Resolver(spec: spec)
        let info = spec["info"] as? [String: Any] ?? [:]
        let title = info["title"] as? String ?? "API"
        let paths = spec["paths"] as? [String: Any] ?? [:]
        let known = Route.allCases.map(\.rawValue).filter { paths[$0] != nil }
        let order = known + paths.keys.sorted().filter { !known.contains($0) }
        var body = "<header><h1>\(escape(title))</h1>"
        if let description = info["description"] as? String { body += "<p>\(escape(description))</p>" }
        body += "<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>. "
        body += "Every response carries <code>X-Request-ID</code>; every route also answers <code>HEAD</code>.</p>"
        body += "<nav><ul>"
        for path in order {
            body += "<li><a href=\"#\(Self.anchor(path))\"><code>\(escape(path))</code></a></li>"
        }
        body += "</ul></nav></header><main>"
        for path in order {
            guard let item = paths[path] as? [String: Any] else { continue }
            for method in ["get", "post", "put", "delete", "patch"] {
                guard let operation = item[method] as? [String: Any] else { continue }
                body += Self.operation(method: method, path: path, operation, resolver)
            }
        }
        body += "</main>"
        return Self.page(title: title, body: body)
    }

    private static func operation(
        method: String,
        path: String,
        _ operation: [String: Any],
        _ resolver: Resolver
    )
        -> String
    {
        var html = "<section id=\"\(Self.anchor(path))\"><h2><span class=\"method\">\(method.uppercased())</span> "
        html += "<code>\(escape(path))</code></h2>"
        if let summary = operation["summary"] as? String { html += "<p class=\"summary\">\(escape(summary))</p>" }
        if let description = operation["description"] as? String { html += "<p>\(escape(description))</p>" }
        let parameters = (operation["parameters"] as? [[String: Any]] ?? []).map(resolver.resolve)
        if !parameters.isEmpty {
            html += "<h3>Parameters</h3><table class=\"parameters\"><thead><tr><th>Name</th><th>In</th>"
            html += "<th>Accepts</th><th>Default</th><th>Meaning</th></tr></thead><tbody>"
            for parameter in parameters {
                let schema = resolver.resolve(parameter["schema"] as? [String: Any] ?? [:])
                // data-label: on a narrow screen each row becomes a card that names its fields.
                html += "<tr><td data-label=\"Name\"><code>\(escape(parameter["name"] as? String ?? ""))</code></td>"
                html += "<td data-label=\"In\">\(escape(parameter["in"] as? String ?? ""))</td>"
                html += "<td data-label=\"Accepts\">\(escape(Self.accepts(schema)))</td>"
                let defaultValue = schema["default"].map { "<code>\(escape(Self.text($0)))</code>" } ?? "none"
                html += "<td data-label=\"Default\">\(defaultValue)</td>"
                html += "<td data-label=\"Meaning\">\(escape(parameter["description"] as? String ?? ""))</td></tr>"
            }
            html += "</tbody></table>"
        }
        html += "<h3>Responses</h3><dl>"
        let responses = operation["responses"] as? [String: Any] ?? [:]
        for status in responses.keys.sorted() {
            let response = resolver.resolve(responses[status] as? [String: Any] ?? [:])
            let reason = Int(status).map { HTTPResponseStatus(statusCode: $0).reasonPhrase } ?? ""
            html += "<dt><code>\(escape(status))</code> \(escape(reason))</dt><dd>"
            html += "<p>\(escape(response["description"] as? String ?? ""))</p>"
            html += Self.headers(response["headers"] as? [String: Any] ?? [:], resolver)
            html += Self.content(response["content"] as? [String: Any] ?? [:], resolver)
            html += "</dd>"
        }
        return html + "</dl></section>"
    }

    private static func headers(_ headers: [String: Any], _ resolver: Resolver) -> String {
        guard !headers.isEmpty else { return "" }
        var html = "<p class=\"label\">Headers</p><ul>"
        for name in headers.keys.sorted() {
            let header = resolver.resolve(headers[name] as? [String: Any] ?? [:])
            let schema = resolver.resolve(header["schema"] as? [String: Any] ?? [:])
            html += "<li><code>\(escape(name))</code> (\(escape(Self.accepts(schema))))"
            if let description = header["description"] as? String { html += ": \(escape(description))" }
            html += "</li>"
        }
        return html + "</ul>"
    }

    private static func content(_ content: [String: Any], _ resolver: Resolver) -> String {
        var html = ""
        for type in content.keys.sorted() {
            let media = content[type] as? [String: Any] ?? [:]
            let schema = resolver.resolve(media["schema"] as? [String: Any] ?? [:])
            html += "<p class=\"label\"><code>\(escape(type))</code>"
            if let name = resolver.name(of: media["schema"]) { html += " — \(escape(name))" }
            html += "</p>"
            html += Self.fields(schema, resolver, depth: 0)
        }
        return html
    }

    /// An object's fields as a nested list: name, type, required; an array of objects lists the
    /// item's fields once.
    private static func fields(_ schema: [String: Any], _ resolver: Resolver, depth: Int) -> String {
        guard depth < 3, let properties = schema["properties"] as? [String: Any], !properties.isEmpty else {
            return ""
        }
        // Required fields in the order the document lists them (the body's key order), then the rest.
        let requiredOrder = schema["required"] as? [String] ?? []
        let required = Set(requiredOrder)
        let names =
            requiredOrder.filter { properties[$0] != nil } + properties.keys.sorted().filter { !required.contains($0) }
        var html = "<ul class=\"fields\">"
        for name in names {
            let raw = properties[name] as? [String: Any] ?? [:]
            let property = resolver.resolve(raw)
            html += "<li><code>\(escape(name))</code> <span class=\"type\">\(escape(Self.accepts(property, resolver)))"
            html += required.contains(name) ? "</span>" : ", optional</span>"
            if let items = property["items"] as? [String: Any] {
                html += Self.fields(resolver.resolve(items), resolver, depth: depth + 1)
            } else {
                html += Self.fields(property, resolver, depth: depth + 1)
            }
            html += "</li>"
        }
        return html + "</ul>"
    }

    /// "integer, 1–100", "one of: id, name", "string or null", "array of Character".
    static func accepts(_ schema: [String: Any], _ resolver: Resolver? = nil) -> String {
        if let choices = schema["enum"] as? [Any] { return "one of: " + choices.map(Self.text).joined(separator: ", ") }
        var type: String
        if let types = schema["type"] as? [String] {
            type = types.joined(separator: " or ")
        } else {
            type = schema["type"] as? String ?? "any"
        }
        if type == "array", let items = schema["items"] {
            type = "array of " + (resolver?.name(of: items) ?? Self.accepts(items as? [String: Any] ?? [:]))
        }
        switch (schema["minimum"], schema["maximum"]) {
        case (let low?, let high?): type += ", \(Self.text(low))–\(Self.text(high))"
        case (let low?, nil): type += ", at least \(Self.text(low))"
        case (nil, let high?): type += ", at most \(Self.text(high))"
        default: break
        }
        return type
    }

    static func text(_ value: Any) -> String {
        (value as? NSNumber)?.doubleValue.plainText ?? "\(value)"
    }

    private static func anchor(_ path: String) -> String {
        path == "/" ? "root" : String(path.dropFirst()).replacingOccurrences(of: ".", with: "-")
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    private static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>
        body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;color:#1d1d1f}
        h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.15rem;margin:2.5rem 0 .25rem;overflow-wrap:anywhere}
        h3{font-size:1rem;margin:1rem 0 .25rem}code{background:#f2f2f4;padding:0 .25rem;border-radius:3px;overflow-wrap:anywhere}
        nav ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;list-style:none}
        section{border-top:1px solid #ddd}.method{background:#2b5fad;color:#fff;padding:0 .4rem;border-radius:3px;font-size:.9rem}
        .summary{font-weight:600;margin:.25rem 0}table{border-collapse:collapse;width:100%}
        td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f7f7f9}
        td code{overflow-wrap:normal;white-space:nowrap}
        dt{font-weight:600;margin-top:.75rem}dd{margin:0 0 0 1rem}dd p{margin:.2rem 0}.label{font-style:italic}
        ul.fields{margin:.2rem 0;padding-left:1.2rem}.type{color:#555}
        @media (max-width:40rem){body{padding:.6rem}dd{margin-left:.5rem}
        table.parameters thead{display:none}table.parameters tr{display:block;border:1px solid #ccc;margin:.5rem 0;padding:.25rem .5rem}
        table.parameters td{display:block;border:0;padding:.1rem 0}
        table.parameters td::before{content:attr(data-label) ": ";font-weight:600}}
        </style></head>
        <body>\(body)</body></html>
        """
    }
}

/// Follows `$ref`s within one OpenAPI document.
struct Resolver {
    let spec: [String: Any]

    /// The object `$ref` points to (one level at a time, up to a few), or the object itself.
    func resolve(_ object: [String: Any]) -> [String: Any] {
        var current = object
        for _ in 0..<4 {
            guard let reference = current["$ref"] as? String, let target = self.lookup(reference) else { break }
            current = target
        }
        return current
    }

    /// The last part of a `$ref` (`Character`), when `value` is one.
    func name(of value: Any?) -> String? {
        guard let reference = (value as? [String: Any])?["$ref"] as? String else { return nil }
        return reference.split(separator: "/").last.map(String.init)
    }

    private func lookup(_ reference: String) -> [String: Any]? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Any = self.spec
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let object = node as? [String: Any], let next = object[String(part)] else { return nil }
            node = next
        }
        return node as? [String: Any]
    }
}
