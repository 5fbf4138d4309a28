import Foundation
import JSONWriting
import Seeded
import Testing

@testable import RickMortyAPI

@Suite("/characters query validation")
struct CharacterQueryTests {
    private func parse(_ query: String) throws(QueryValidationError) -> CharacterQuery {
        try CharacterQuery.parse(QueryString.items(Substring(query)))
    }

    @Test("the query's pairs come in order, decoded, empty parts skipped, a bare name with an empty value")
    func pairs() {
        let pairs = QueryString.items("a=1&&b&=x&c=d%3De&name=Rick+Sanchez&").map { "\($0.name)=\($0.value)" }
        #expect(pairs == ["a=1", "b=", "=x", "c=d=e", "name=Rick Sanchez"])
        #expect(Array(QueryString.items(nil)).isEmpty && Array(QueryString.items("&&")).isEmpty)
    }

    @Test("defaults: sort=id, order=asc, page=1, page_size=20")
    func defaults() throws {
        #expect(try self.parse("") == CharacterQuery(sort: .id, order: .asc, page: 1, pageSize: 20))
    }

    @Test(
        "accepted values",
        arguments: [
            (
                "sort=name&order=desc&page=3&page_size=100",
                CharacterQuery(sort: .name, order: .desc, page: 3, pageSize: 100)
            ),
            ("page=0001&page_size=01", CharacterQuery(page: 1, pageSize: 1)),
            ("page=1000000", CharacterQuery(page: 1_000_000)),
            ("page=2&page=5", CharacterQuery(page: 5)),
            ("unknown=x&sort=id", CharacterQuery()),
            ("page=%32", CharacterQuery(page: 2)),
        ]
    )
    func accepted(query: String, expected: CharacterQuery) throws {
        #expect(try self.parse(query) == expected)
    }

    @Test(
        "rejected values name the parameter",
        arguments: [
            ("sort=Name", "sort"), ("sort=", "sort"), ("sort=created", "sort"), ("order=ASC", "order"),
            ("order=up", "order"),
            ("page=0", "page"), ("page=-1", "page"), ("page=+1", "page"), ("page=%201", "page"), ("page=1.0", "page"),
            ("page=1_0", "page"), ("page=0x10", "page"), ("page=%EF%BC%91", "page"), ("page=1000001", "page"),
            ("page=99999999999999999999999999", "page"), ("page=", "page"), ("page=1e3", "page"),
            ("page_size=0", "page_size"), ("page_size=101", "page_size"), ("page_size=abc", "page_size"),
            ("page=1&page=x", "page"),
        ]
    )
    func rejected(query: String, parameter: String) {
        do {
            _ = try self.parse(query)
            Issue.record("\(query) was accepted")
        } catch {
            #expect(error.parameter == parameter)
            #expect(error.detail.hasPrefix(parameter + " must be"))
        }
    }
}

@Suite("Paging arithmetic and the body")
struct CharacterPageTests {
    private func encoded(_ page: Int, size: Int, total: Int, rows: Int) -> [UInt8] {
        let (page, results) = self.page(page, size: size, total: total, rows: rows)
        return page.encoded(results)
    }

    private func page(
        _ page: Int,
        size: Int,
        total: Int,
        rows: Int = 0
    ) -> (page: CharacterPage, results: [StoredCharacter]) {
        let results = (0..<rows).map {
            StoredCharacter(
                id: $0 + 1,
                name: "N\($0)",
                status: "Alive",
                species: "Human",
                origin: "Earth (C-137)",
                image: nil,
                url: nil
            )
        }
        return (CharacterPage(query: CharacterQuery(page: page, pageSize: size), totalCount: total), results)
    }

    @Test(
        "total_pages, has_prev, has_next and out_of_range",
        arguments: [
            // page, size, total -> pages, prev, next, outOfRange
            (1, 20, 86, 5, false, true, false),
            (5, 20, 86, 5, true, false, false),
            (6, 20, 86, 5, true, false, true),
            (1, 20, 0, 0, false, false, false),
            (2, 20, 0, 0, true, false, true),
            (1, 100, 100, 1, false, false, false),
            (1, 1, 1, 1, false, false, false),
            (1_000_000, 100, 86, 1, true, false, true),
        ]
    )
    func arithmetic(input: (Int, Int, Int, Int, Bool, Bool, Bool)) {
        let (number, size, total, pages, prev, next, outOfRange) = input
        let page = self.page(number, size: size, total: total).page
        #expect(page.totalPages == pages)
        #expect(page.hasPrev == prev)
        #expect(page.hasNext == next)
        #expect(page.outOfRange == outOfRange)
    }

    @Test("the body's keys are in the contract's order, and results are empty out of range")
    func body() {
        let text = String(decoding: self.encoded(1, size: 2, total: 3, rows: 2), as: UTF8.self)
        #expect(
            text
                == #"{"page":1,"page_size":2,"total_count":3,"total_pages":2,"has_prev":false,"has_next":true,"out_of_range":false,"results":[{"id":1,"name":"N0","status":"Alive","species":"Human","origin":"Earth (C-137)","image":null,"url":null},{"id":2,"name":"N1","status":"Alive","species":"Human","origin":"Earth (C-137)","image":null,"url":null}]}"#
        )
        let outside = String(decoding: self.encoded(9, size: 2, total: 3, rows: 2), as: UTF8.self)
        #expect(outside.hasSuffix(#""has_prev":true,"has_next":false,"out_of_range":true,"results":[]}"#))
    }

    @Test("text is written from the row's UTF-8 bytes: escaped, non-ASCII kept, NULL links as null")
    func writerFromBytes() {
        let character = StoredCharacter(
            id: 7,
            name: "Zoë \"Q\"",
            status: "Alive",
            species: "Human",
            origin: "Earth (C-137)",
            image: "https://x/7.jpeg",
            url: nil
        )
        let body = CharacterPage(query: CharacterQuery(pageSize: 1), totalCount: 1).encoded([character])
        #expect(
            String(decoding: body, as: UTF8.self).hasSuffix(
                #""results":[{"id":7,"name":"Zoë \"Q\"","status":"Alive","species":"Human","origin":"Earth (C-137)","image":"https://x/7.jpeg","url":null}]}"#
            )
        )
    }

    @Test("escaping eight bytes a step gives what escaping byte by byte gives, wherever the escapes fall")
    func escapingRuns() {
        func byteByByte(_ text: String) -> String {
            var out = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
                default: out.unicodeScalars.append(scalar)
                }
            }
            return out + "\""
        }
        let pieces = ["a", "xyz", "\"", "\\", "\n", "\u{01}", "\u{1f}", "é", "\r", " ", "\t", "0123456789"]
        var random = SplitMix64(seed: 7, path: ["escaping"])
        for length in 0..<60 {
            let text = (0..<length).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            var json = JSONWriter()
            json.string(text)
            #expect(String(decoding: json.bytes, as: UTF8.self) == byteByByte(text), "\(text.debugDescription)")
        }
    }

    @Test("JSON strings are escaped")
    func escaping() {
        var json = JSONWriter()
        json.beginArray()
        json.string("q\"b\\s\n\t\u{01}ü")
        json.endArray()
        #expect(String(decoding: json.bytes, as: UTF8.self) == #"["q\"b\\s\n\t\u0001ü"]"#)
    }
}

@Suite("The filter rule")
struct CharacterFilterTests {
    @Test(
        "species Human, status Alive, origin starting with 'Earth (' — exact",
        arguments: [
            ("Human", "Alive", "Earth (C-137)", true),
            ("Human", "Alive", "Earth (Replacement Dimension)", true),
            ("Human", "Alive", "Earth (", true),
            ("Human", "Alive", "Earth", false),
            ("Human", "Alive", "Earthworm Moon", false),
            ("Human", "Alive", "earth (C-137)", false),
            ("Human", "Alive", " Earth (C-137)", false),
            ("Human", "Alive", "Earth(C-137)", false),
            ("Human ", "Alive", "Earth (C-137)", false),
            ("human", "Alive", "Earth (C-137)", false),
            ("Human", "alive", "Earth (C-137)", false),
            ("Human", "Alive ", "Earth (C-137)", false),
            ("Human", "Dead", "Earth (C-137)", false),
            ("Human", "unknown", "Earth (C-137)", false),
            ("Alien", "Alive", "Earth (C-137)", false),
        ]
    )
    func rule(species: String, status: String, origin: String, kept: Bool) {
        #expect(CharacterFilter.keeps(species: species, status: status, originName: origin) == kept)
    }
}
