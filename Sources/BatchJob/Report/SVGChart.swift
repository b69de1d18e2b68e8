import Foundation

/// Small, dependency-free SVG charts for the run report: a report must open offline, with no
/// scripts, so charts are drawn as plain SVG text.
enum SVGChart {
    struct Series: Sendable {
        var name: String
        var points: [(x: Double, y: Double)]
    }

    static let palette = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#718096"]
    static let width = 560.0
    static let height = 260.0
    private static let left = 56.0, right = 16.0, top = 44.0, bottom = 40.0

    /// Lines over a shared numeric x axis, with a legend. Empty series draw an empty frame.
    static func line(title: String, xLabel: String, yLabel: String, series: [Series], xTicks: [(Double, String)]? = nil) -> String {
        let points = series.flatMap(\.points)
        let (xMin, xMax) = bounds(points.map(\.x))
        let (yMin, yMax) = bounds(points.map(\.y), includeZero: false)
        var body = frame(title: title, xLabel: xLabel, yLabel: yLabel, yMin: yMin, yMax: yMax)
        body += xAxisTicks(xTicks ?? niceTicks(xMin, xMax).map { ($0, format($0)) }, xMin: xMin, xMax: xMax)
        for (index, serie) in series.enumerated() {
            let color = palette[index % palette.count]
            let coordinates = serie.points.map { "\(fmt(xPos($0.x, xMin, xMax))),\(fmt(yPos($0.y, yMin, yMax)))" }
            if coordinates.count > 1 {
                body += "<polyline class=\"series\" data-series=\"\(escape(serie.name))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(coordinates.joined(separator: " "))\"/>"
            }
            for point in serie.points {
                body += "<circle cx=\"\(fmt(xPos(point.x, xMin, xMax)))\" cy=\"\(fmt(yPos(point.y, yMin, yMax)))\" r=\"3\" fill=\"\(color)\"><title>\(escape(serie.name)): \(format(point.y))</title></circle>"
            }
        }
        body += legend(series.map(\.name))
        return svg(title: title, body: body)
    }

    /// Grouped bars: one group per category, one bar per series inside it.
    static func bars(title: String, yLabel: String, categories: [String], series: [(name: String, values: [Double])]) -> String {
        let values = series.flatMap(\.values)
        let yMax = max(values.max() ?? 1, 1e-9) * 1.1
        var body = frame(title: title, xLabel: "", yLabel: yLabel, yMin: 0, yMax: yMax)
        let plotWidth = width - left - right
        let groupWidth = plotWidth / Double(max(categories.count, 1))
        let barWidth = groupWidth * 0.8 / Double(max(series.count, 1))
        for (c, category) in categories.enumerated() {
            let groupX = left + Double(c) * groupWidth + groupWidth * 0.1
            for (s, serie) in series.enumerated() where c < serie.values.count {
                let value = serie.values[c]
                let y = yPos(value, 0, yMax)
                body += "<rect class=\"bar\" x=\"\(fmt(groupX + Double(s) * barWidth))\" y=\"\(fmt(y))\" width=\"\(fmt(barWidth - 2))\" height=\"\(fmt(height - bottom - y))\" fill=\"\(palette[s % palette.count])\"><title>\(escape(category)) \(escape(serie.name)): \(format(value))</title></rect>"
            }
            body += "<text x=\"\(fmt(groupX + groupWidth * 0.4))\" y=\"\(fmt(height - bottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(escape(category))</text>"
        }
        if series.count > 1 { body += legend(series.map(\.name)) }
        return svg(title: title, body: body)
    }

    /// Stacked horizontal-time bars: one column per run, one segment per stage.
    static func stacked(title: String, yLabel: String, columns: [String], segments: [(name: String, values: [Double])]) -> String {
        let totals = columns.indices.map { column in segments.reduce(0) { $0 + (column < $1.values.count ? $1.values[column] : 0) } }
        let yMax = max(totals.max() ?? 1, 1e-9) * 1.1
        var body = frame(title: title, xLabel: "", yLabel: yLabel, yMin: 0, yMax: yMax)
        let columnWidth = (width - left - right) / Double(max(columns.count, 1))
        for (c, label) in columns.enumerated() {
            var base = 0.0
            for (s, segment) in segments.enumerated() where c < segment.values.count {
                let value = segment.values[c]
                let yTop = yPos(base + value, 0, yMax)
                let yBottom = yPos(base, 0, yMax)
                body += "<rect class=\"bar\" x=\"\(fmt(left + Double(c) * columnWidth + 1))\" y=\"\(fmt(yTop))\" width=\"\(fmt(max(columnWidth - 2, 1)))\" height=\"\(fmt(yBottom - yTop))\" fill=\"\(palette[s % palette.count])\"><title>\(escape(label)) \(escape(segment.name)): \(format(value))</title></rect>"
                base += value
            }
            if columns.count <= 12 || c % max(1, columns.count / 6) == 0 {
                body += "<text x=\"\(fmt(left + (Double(c) + 0.5) * columnWidth))\" y=\"\(fmt(height - bottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(escape(label))</text>"
            }
        }
        body += legend(segments.map(\.name))
        return svg(title: title, body: body)
    }

    /// A histogram of `values` in `binCount` equal-width bins.
    static func histogram(title: String, xLabel: String, values: [Double], binCount: Int = 30) -> String {
        let finite = values.filter(\.isFinite)
        let (low, high) = bounds(finite)
        var counts = [Double](repeating: 0, count: binCount)
        for value in finite {
            let bin = min(binCount - 1, max(0, Int((value - low) / (high - low) * Double(binCount))))
            counts[bin] += 1
        }
        let yMax = max(counts.max() ?? 1, 1) * 1.1
        var body = frame(title: title, xLabel: xLabel, yLabel: "count", yMin: 0, yMax: yMax)
        let binWidth = (width - left - right) / Double(binCount)
        for (bin, count) in counts.enumerated() {
            let y = yPos(count, 0, yMax)
            body += "<rect class=\"bar\" x=\"\(fmt(left + Double(bin) * binWidth))\" y=\"\(fmt(y))\" width=\"\(fmt(max(binWidth - 1, 1)))\" height=\"\(fmt(height - bottom - y))\" fill=\"\(palette[0])\"><title>\(format(low + Double(bin) * (high - low) / Double(binCount))): \(Int(count))</title></rect>"
        }
        body += xAxisTicks(niceTicks(low, high).map { ($0, format($0)) }, xMin: low, xMax: high)
        return svg(title: title, body: body)
    }

    // MARK: - Pieces

    private static func svg(title: String, body: String) -> String {
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">\(body)</svg>"
    }

    private static func frame(title: String, xLabel: String, yLabel: String, yMin: Double, yMax: Double) -> String {
        var text = "<text x=\"\(fmt(left))\" y=\"18\" class=\"title\">\(escape(title))</text>"
        text += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(height - bottom))\" x2=\"\(fmt(width - right))\" y2=\"\(fmt(height - bottom))\" class=\"axis\"/>"
        text += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(top))\" x2=\"\(fmt(left))\" y2=\"\(fmt(height - bottom))\" class=\"axis\"/>"
        for tick in niceTicks(yMin, yMax) {
            let y = yPos(tick, yMin, yMax)
            text += "<line x1=\"\(fmt(left))\" y1=\"\(fmt(y))\" x2=\"\(fmt(width - right))\" y2=\"\(fmt(y))\" class=\"grid\"/>"
            text += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y + 4))\" text-anchor=\"end\" class=\"tick\">\(format(tick))</text>"
        }
        if !xLabel.isEmpty {
            text += "<text x=\"\(fmt((left + width - right) / 2))\" y=\"\(fmt(height - 6))\" text-anchor=\"middle\" class=\"label\">\(escape(xLabel))</text>"
        }
        text += "<text transform=\"translate(14 \(fmt((top + height - bottom) / 2))) rotate(-90)\" text-anchor=\"middle\" class=\"label\">\(escape(yLabel))</text>"
        return text
    }

    private static func xAxisTicks(_ ticks: [(Double, String)], xMin: Double, xMax: Double) -> String {
        ticks.filter { $0.0 >= xMin && $0.0 <= xMax }.map {
            "<text x=\"\(fmt(xPos($0.0, xMin, xMax)))\" y=\"\(fmt(height - bottom + 16))\" text-anchor=\"middle\" class=\"tick\">\(escape($0.1))</text>"
        }.joined()
    }

    private static func legend(_ names: [String]) -> String {
        var x = width - right
        var text = ""
        for (index, name) in names.enumerated().reversed() {
            x -= Double(name.count) * 6.5 + 22
            text += "<rect x=\"\(fmt(x))\" y=\"24\" width=\"10\" height=\"10\" fill=\"\(palette[index % palette.count])\"/>"
            text += "<text x=\"\(fmt(x + 14))\" y=\"33\" class=\"tick\">\(escape(name))</text>"
        }
        return text
    }

    private static func bounds(_ values: [Double], includeZero: Bool = false) -> (Double, Double) {
        let finite = values.filter(\.isFinite)
        guard var low = finite.min(), var high = finite.max() else { return (0, 1) }
        if includeZero { low = min(low, 0) }
        if high - low < 1e-9 {
            low -= 0.5
            high += 0.5
        }
        return (low, high)
    }

    private static func xPos(_ x: Double, _ low: Double, _ high: Double) -> Double { left + (x - low) / (high - low) * (width - left - right) }
    private static func yPos(_ y: Double, _ low: Double, _ high: Double) -> Double { height - bottom - (y - low) / (high - low) * (height - top - bottom) }

    /// About five round tick values covering [low, high].
    static func niceTicks(_ low: Double, _ high: Double) -> [Double] {
        guard high > low, low.isFinite, high.isFinite else { return [low] }
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var ticks: [Double] = []
        var tick = ceil(low / step) * step
        while tick <= high + step * 1e-9 {
            ticks.append(tick)
            tick += step
        }
        return ticks
    }

    static func format(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        if value == value.rounded() && abs(value) < 1e9 { return String(Int(value)) }
        let digits = abs(value) >= 100 ? 0 : abs(value) >= 10 ? 1 : abs(value) >= 1 ? 2 : 3
        return String(format: "%.\(digits)f", value)
    }

    private static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        var escaped = ""
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
}
