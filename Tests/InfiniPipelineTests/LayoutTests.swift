import Foundation
import Testing

/// The library's folders depend one way: the model's facts and the media layer at the bottom,
/// the stages above them, the backends and the stitcher above those, the pipeline on top.
/// Computed from the sources: a folder uses another when one of its files names a type or
/// function declared there.
@Suite("Source layout", .ownThreads)
struct LayoutTests {
    /// Each folder's layer: a folder may use only folders of lower layers.
    static let layers: [String: Int] = [
        "Model": 0,
        "Media": 1,
        "Vision": 2,
        "Image": 3, "Audio": 3, "Fal": 3, "Transcript": 3,
        "WaveSpeed": 4,  // above Fal: it reuses Fal's HTTP layer (transport, retries, download)
        "Planning": 4,
        "Backends": 5, "Stitching": 5,
        "Pipeline": 6,
    ]

    static var sources: URL {
        Fixture.directory.deletingLastPathComponent().appendingPathComponent("Sources/InfiniPipeline")
    }

    /// folder → folders it uses, each with a few of the names that make the edge.
    static func dependencies() throws -> [String: [String: Set<String>]] {
        let fm = FileManager.default
        var files: [(folder: String, text: String)] = []
        for folder in try fm.contentsOfDirectory(atPath: sources.path).sorted() {
            let dir = sources.appendingPathComponent(folder)
            guard (try? dir.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) == true, !folder.hasSuffix(".docc") else {
                continue
            }
            for name in try fm.contentsOfDirectory(atPath: dir.path) where name.hasSuffix(".swift") {
                files.append(
                    (
                        folder,
                        strippingCommentsAndStrings(try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8))
                    ))
            }
        }
        let declaration = try Regex(
            #"(?m)^(?:@\w+(?:\([^)]*\))?\s+)*((?:(?:public|package|internal|fileprivate|private|final|indirect|nonisolated)\s+)*)(?:struct|enum|class|actor|protocol|typealias|func)\s+([A-Za-z_]\w*)"#
        )
        var owner: [String: String] = [:]
        for file in files {
            for match in file.text.matches(of: declaration) {
                let modifiers = String(match.output[1].substring ?? "")
                if modifiers.contains("private") { continue }  // file-local names may repeat
                if let name = match.output[2].substring { owner[String(name)] = file.folder }
            }
        }
        let identifier = try Regex(#"[A-Za-z_]\w*"#)
        var uses: [String: [String: Set<String>]] = [:]
        for file in files {
            for match in file.text.matches(of: identifier) {
                let name = String(file.text[match.range])
                guard let other = owner[name], other != file.folder else { continue }
                uses[file.folder, default: [:]][other, default: []].insert(name)
            }
        }
        return uses
    }

    /// Source text without comments and string literals (whose words are not references).
    static func strippingCommentsAndStrings(_ text: String) -> String {
        var out = ""
        var chars = Array(text)[...]
        while let c = chars.first {
            if chars.starts(with: "//") {
                while let d = chars.first, d != "\n" { chars = chars.dropFirst() }
            } else if chars.starts(with: "/*") {
                chars = chars.dropFirst(2)
                while !chars.isEmpty && !chars.starts(with: "*/") { chars = chars.dropFirst() }
                chars = chars.dropFirst(2)
            } else if chars.starts(with: "\"\"\"") {
                chars = chars.dropFirst(3)
                while !chars.isEmpty && !chars.starts(with: "\"\"\"") { chars = chars.dropFirst() }
                chars = chars.dropFirst(3)
                out += "\"\""
            } else if c == "\"" {
                chars = chars.dropFirst()
                while let d = chars.first, d != "\"", d != "\n" {
                    chars = chars.dropFirst(d == "\\" ? 2 : 1)
                }
                chars = chars.dropFirst()
                out += "\"\""
            } else {
                out.append(c)
                chars = chars.dropFirst()
            }
        }
        return out
    }

    @Test func foldersDependOneWay() throws {
        let uses = try Self.dependencies()
        #expect(!uses.isEmpty)
        for (folder, targets) in uses.sorted(by: { $0.key < $1.key }) {
            let layer = try #require(Self.layers[folder], "Sources/InfiniPipeline/\(folder) has no layer in LayoutTests.layers")
            for (target, names) in targets.sorted(by: { $0.key < $1.key }) {
                let targetLayer = try #require(Self.layers[target], "\(target) has no layer")
                #expect(targetLayer < layer, "\(folder) uses \(target) (\(names.sorted().prefix(6).joined(separator: ", ")))")
            }
        }
    }

    /// Files stay short enough to read whole: at most 450 lines in Sources/, 700 in Tests/ (a
    /// longer one is split along what it holds).
    @Test func noFileIsTooLongToRead() throws {
        let root = Self.sources.deletingLastPathComponent().deletingLastPathComponent()
        for (folder, limit) in [("Sources", 450), ("Tests", 700)] {
            let base = root.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(atPath: base.path)?.compactMap { $0 as? String } ?? []
            var counted = 0
            for file in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - (text.hasSuffix("\n") ? 1 : 0)
                #expect(lines <= limit, "\(folder)/\(file) has \(lines) lines (at most \(limit))")
                counted += 1
            }
            #expect(counted > 20, "\(folder): only \(counted) Swift files found")
        }
    }

    /// `swift test --filter LayoutTests/printGraph` prints the graph (for notes and reviews).
    /// It checks that the graph covers the library: every folder of Swift sources has a layer,
    /// every layer names a folder that exists, and every folder that uses another is in it.
    @Test func printGraph() throws {
        let fm = FileManager.default
        let folders = try fm.contentsOfDirectory(atPath: Self.sources.path).filter { name in
            let dir = Self.sources.appendingPathComponent(name)
            let files = (try? fm.contentsOfDirectory(atPath: dir.path)) ?? []
            return !name.hasSuffix(".docc") && files.contains { $0.hasSuffix(".swift") }
        }
        #expect(Set(folders) == Set(Self.layers.keys), "folders \(folders.sorted()), layers \(Self.layers.keys.sorted())")
        let graph = try Self.dependencies()
        #expect(Set(graph.keys).isSubset(of: Set(folders)))
        #expect(graph.count >= folders.count - 2, "only \(graph.keys.sorted()) use another folder")
        for (folder, targets) in graph.sorted(by: { $0.key < $1.key }) {
            print("\(folder) → \(targets.keys.sorted().joined(separator: ", "))")
        }
    }
}
