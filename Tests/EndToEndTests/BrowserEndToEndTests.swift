import Foundation
import Postgres
import TestSupport
import Testing

/// The HTML report as finance sees it: rendered by headless Chromium at 1280 pixels wide, its verdict banner,
/// its totals against the JSON report, its screenshot checked by structure, and every chart's text inside
/// its chart.
@Suite struct BrowserEndToEndTests {
    /// Where Debian's `chromium` package puts the browser (`Scripts/install-deps.sh` installs it).
    static let chromium: String? = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static let width = 1280
    static let height = 1400

    /// A browser that is missing fails the test instead of skipping it, so that CI can never pass without
    /// having looked at the page.
    static func browser() throws -> String {
        try #require(
            chromium,
            "Chromium is not installed: run Scripts/install-deps.sh (it installs Debian's chromium and fonts)")
    }

    /// Twelve providers: more legend entries than one line of the per-month chart holds at this width.
    @Test func passingReportRendersWithGreenBannerAndTheJSONTotals() throws {
        let browser = try Self.browser()
        let deployment = try Deployment(generated: 2400, faults: true, providers: 12)
        #expect(try deployment.settle().status == 3)
        let page = try Rendered(deployment: deployment, browser: browser)

        #expect(page.checks.count == 3 && page.checks.allSatisfy(\.ok))
        #expect(page.dom.contains("<p class=\"verdict ok\">✔ All 3 reconciliation checks pass.</p>"))
        try page.expectCardsShowTheJSONTotals()
        #expect(page.layoutProblems == "ok", "text outside its chart at \(Self.width) px:\n\(page.layoutProblems)")

        let image = page.screenshot
        #expect(image.width == Self.width && image.height == Self.height)
        let banner = try #require(page.bannerRows(colour: RGB(hex: "#e3f9e5")), "no green verdict banner")
        #expect(banner.count >= 30 && banner.lowerBound < 300, "banner rows \(banner)")
        #expect(page.bannerRows(colour: RGB(hex: "#ffe3e3")) == nil)
        try page.expectNotBlank()
    }

    /// A failing check turns the banner red and names the check; the totals still match the JSON.
    @Test func failingReportRendersWithRedBanner() throws {
        let browser = try Self.browser()
        let deployment = try Deployment(generated: 1200, faults: false)
        #expect(try deployment.settle().status == 0)
        let connection = try deployment.database.connect()
        defer { connection.close() }
        try connection.query(
            "UPDATE ledger SET points = points - 1 WHERE holder_key = (SELECT min(holder_key) FROM ledger WHERE points > 0)"
        )
        let page = try Rendered(deployment: deployment, browser: browser)

        let failing = page.checks.filter { !$0.ok }.map(\.name)
        #expect(failing == ["points"])
        #expect(page.dom.contains("<p class=\"verdict fail\">✘ 1 of 3 reconciliation checks fail: points."))
        try page.expectCardsShowTheJSONTotals()
        let banner = try #require(page.bannerRows(colour: RGB(hex: "#ffe3e3")), "no red verdict banner")
        #expect(banner.count >= 30 && banner.lowerBound < 300, "banner rows \(banner)")
        #expect(page.bannerRows(colour: RGB(hex: "#e3f9e5")) == nil)
        try page.expectNotBlank()
    }
}

extension BrowserEndToEndTests {
    /// The Japanese page: `lang="ja"`, its totals with their units, and its Japanese drawn with a font that has
    /// the characters — distinct glyphs, not the one empty box a font without them draws for every character.
    @Test func japaneseReportRendersWithACJKFont() throws {
        let browser = try Self.browser()
        let deployment = try Deployment(generated: 1200, faults: true)
        #expect(try deployment.settle().status == 3)
        let page = try Rendered(deployment: deployment, browser: browser, language: "ja")

        #expect(page.dom.contains("<html lang=\"ja\">"))
        #expect(page.dom.contains("<p class=\"verdict ok\">✔ 照合チェック3件はすべて合格です。</p>"))
        let points = try #require(page.report.totals["points"])
        #expect(
            page.dom.contains(
                "<div class=\"label\">支払ポイント</div><div class=\"value\">\(Self.grouped(points))ポイント</div>"))
        #expect(page.layoutProblems == "ok", "text outside its chart at \(Self.width) px:\n\(page.layoutProblems)")
        #expect(page.glyphs.hasPrefix("distinct 4 of 4, inked 4,"), "Japanese is drawn as tofu: \(page.glyphs)")
        #expect(page.bannerRows(colour: RGB(hex: "#e3f9e5")) != nil, "no green verdict banner")
        try page.expectNotBlank()
    }

    /// `1234567` as `1,234,567`.
    static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(digit)
        }
        return out
    }
}

/// One report rendered: the JSON report, the DOM Chromium built from the HTML, the layout check and the
/// screenshot.
struct Rendered {
    struct Check: Decodable {
        var name: String
        var ok: Bool
    }

    struct Report: Decodable {
        var totals: [String: Int]
        var holdersAtCap: Int
        var checks: [Check]

        enum CodingKeys: String, CodingKey {
            case totals, checks
            case holdersAtCap = "holders_at_cap"
        }
    }

    let report: Report
    let dom: String
    let layoutProblems: String
    /// How the page's own font draws four Japanese characters: `distinct N of 4, inked M` from the probe.
    let glyphs: String
    let screenshot: PNGImage
    var checks: [Check] { report.checks }

    init(deployment: Deployment, browser: String, language: String = "en") throws {
        let folder = deployment.workspace.root
        let html = folder + "/report.html"
        let rendered = try Binary.run(
            ["report", "--format", "html", "-o", html, "--lang", language], database: deployment.database)
        try #require(rendered.status == 0, "\(rendered.stderr)")
        let json = try Binary.run(["report", "--format", "json"], database: deployment.database)
        try #require(json.status == 0, "\(json.stderr)")
        report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))

        // The page ships without script; a copy with one measures, in the browser's own layout, every chart's
        // text and shapes against the chart's box, and whether the page is wider than the window.
        let page = try String(contentsOfFile: html, encoding: .utf8)
        let probe = folder + "/report-probe.html"
        try page.replacingOccurrences(of: "</body>", with: Self.layoutProbe + "</body>")
            .write(toFile: probe, atomically: true, encoding: .utf8)
        dom = try Self.chromium(browser, folder: folder, ["--dump-dom", "file://" + probe])
        let marker = try #require(dom.range(of: "<pre id=\"layout-check\">"), "the probe did not run")
        layoutProblems = String(dom[marker.upperBound...].prefix { $0 != "<" })
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&amp;", with: "&")
        let glyphMarker = try #require(dom.range(of: "<pre id=\"glyph-check\">"), "the glyph probe did not run")
        glyphs = String(dom[glyphMarker.upperBound...].prefix { $0 != "<" })

        let png = folder + "/report.png"
        _ = try Self.chromium(browser, folder: folder, ["--screenshot=" + png, "file://" + html])
        screenshot = try PNGImage(Array(try Data(contentsOf: URL(fileURLWithPath: png))))
    }

    static let layoutProbe = """
        <script>
        const problems = [];
        for (const svg of document.querySelectorAll('svg.chart')) {
          const view = svg.viewBox.baseVal;
          for (const shape of svg.querySelectorAll('text, rect')) {
            const box = shape.getBBox();
            if (box.x < view.x - 0.5 || box.y < view.y - 0.5 || box.x + box.width > view.x + view.width + 0.5
                || box.y + box.height > view.y + view.height + 0.5) {
              problems.push(svg.getAttribute('aria-label') + ': "' + shape.textContent + '" at x '
                + Math.round(box.x) + '..' + Math.round(box.x + box.width) + ' of ' + view.width);
            }
          }
        }
        if (document.documentElement.scrollWidth > window.innerWidth) {
          problems.push('page is ' + document.documentElement.scrollWidth + ' px wide');
        }
        const out = document.createElement('pre');
        out.id = 'layout-check';
        out.textContent = problems.length ? problems.join('\\n') : 'ok';
        document.body.appendChild(out);
        // Japanese drawn in the heading's font, as the page draws it: a font without the characters draws the same
        // empty box (tofu) for each, so four different characters give four different images only with a CJK font.
        const canvas = document.createElement('canvas');
        canvas.width = 64;
        canvas.height = 64;
        const context = canvas.getContext('2d');
        const family = getComputedStyle(document.querySelector('h1')).fontFamily;
        const images = new Set();
        let inked = 0;
        for (const character of ['照', '合', '精', 'ポ']) {
          context.clearRect(0, 0, 64, 64);
          context.font = '48px ' + family;
          context.textBaseline = 'top';
          context.fillText(character, 4, 4);
          const alpha = context.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3);
          if (alpha.some((a) => a > 0)) inked += 1;
          images.add(alpha.join(','));
        }
        const glyphs = document.createElement('pre');
        glyphs.id = 'glyph-check';
        glyphs.textContent = 'distinct ' + images.size + ' of 4, inked ' + inked + ', font ' + family;
        document.body.appendChild(glyphs);
        </script>

        """

    /// Runs headless Chromium on a page at the test's window size; returns its standard output.
    static func chromium(_ browser: String, folder: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: browser)
        // A profile of its own per run: parallel tests never share one, and nothing lands in the home folder.
        let profile = folder + "/chromium-profile-\(UUID().uuidString.prefix(8))"
        process.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--force-device-scale-factor=1", "--force-color-profile=srgb", "--user-data-dir=" + profile,
                "--window-size=\(BrowserEndToEndTests.width),\(BrowserEndToEndTests.height)",
            ] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // A browser that hangs (a crashed GPU process, a page that never finishes loading) must end the test,
        // not the CI run: it is stopped after two minutes, far more than a render takes.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 120, execute: watchdog)
        defer { watchdog.cancel() }
        let errorText = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorText.set(errors.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        group.wait()
        try #require(
            process.terminationStatus == 0,
            "chromium exited \(process.terminationStatus): \(String(decoding: errorText.value, as: UTF8.self))")
        return text
    }

    /// The summary cards, label to the number shown.
    var cards: [String: Int] {
        var cards: [String: Int] = [:]
        let pattern = #/<div class="label">([^<]+)</div><div class="value">([0-9,-]+)</div>/#
        for match in dom.matches(of: pattern) {
            cards[String(match.1)] = Int(match.2.replacingOccurrences(of: ",", with: ""))
        }
        return cards
    }

    func expectCardsShowTheJSONTotals() throws {
        let shown = cards
        let expected: [String: Int?] = [
            "Points owed (yen)": report.totals["points"], "Records settled": report.totals["records"],
            "Records granted": report.totals["granted_records"], "Files settled": report.totals["files"],
            "Files quarantined": report.totals["quarantined_files"], "Holders at the cap": report.holdersAtCap,
        ]
        for (label, value) in expected {
            let value = try #require(value, "the JSON report has no figure for \(label)")
            #expect(shown[label] == value, "\(label): page shows \(shown[label].map(String.init) ?? "nothing")")
        }
        #expect((report.totals["points"] ?? 0) > 0)
    }

    /// The first run of rows mostly painted in `colour` (a third of the width or more, so the text on a banner
    /// does not break it up), if any.
    func bannerRows(colour: RGB) -> Range<Int>? {
        func isBanner(_ y: Int) -> Bool {
            var count = 0
            for x in 0..<screenshot.width where screenshot.pixel(x: x, y: y).distance(to: colour) <= 3 { count += 1 }
            return count * 3 >= screenshot.width
        }
        guard let first = (0..<screenshot.height).first(where: isBanner) else { return nil }
        let end = (first..<screenshot.height).first { !isBanner($0) }
        return first..<(end ?? screenshot.height)
    }

    /// Text, tables and charts were drawn: many pixels are not white, in more than a few colours.
    func expectNotBlank() throws {
        var inked = 0
        var colours = Set<RGB>()
        let white = RGB(red: 255, green: 255, blue: 255)
        for y in Swift.stride(from: 0, to: screenshot.height, by: 2) {
            for x in Swift.stride(from: 0, to: screenshot.width, by: 2) {
                let pixel = screenshot.pixel(x: x, y: y)
                if pixel != white { inked += 1 }
                if colours.count < 64 { colours.insert(pixel) }
            }
        }
        let sampled = (screenshot.height / 2) * (screenshot.width / 2)
        #expect(inked * 100 > sampled * 3, "only \(inked) of \(sampled) sampled pixels are not white")
        #expect(colours.count >= 16, "only \(colours.count) colours on the page")
    }
}
