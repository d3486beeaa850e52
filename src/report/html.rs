//! Helpers of the HTML and SVG writers (the matrix report, the realism
//! figures): escaping and the width of a label.

/// Escape `text` for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Return an upper bound of the width in pixels of `text` set at `size` px
/// in a sans-serif font: charts size their label room from it, so that no
/// name is cut or runs into the plot (wide letters count wide; checked in
/// headless Chromium by `tests/html_report.rs`).
pub fn text_width(text: &str, size: f64) -> f64 {
    let em: f64 = text
        .chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | '(' | ')' | '[' | ']' => 0.34,
            'f' | 'r' | 't' | '-' | '/' | '1' | '*' => 0.46,
            'm' | 'w' | 'M' | 'W' | '@' | '%' | '&' => 0.92,
            c if c.is_ascii_uppercase() => 0.74,
            c if c.is_ascii() => 0.62,
            _ => 1.0,
        })
        .sum();
    (em * size).ceil()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
        assert_eq!(escape("plain text · ≥ 95"), "plain text · ≥ 95");
    }

    #[test]
    fn wide_letters_count_wide() {
        assert!(text_width("WWW", 12.0) > text_width("iii", 12.0));
        assert_eq!(text_width("", 12.0), 0.0);
    }
}
