//! Each provider's set-up steps on the Sources page, from one source of truth: the
//! "Set-up, step by step" section of `docs/providers/<provider>.md`, embedded at compile
//! time and rendered as simple HTML (paragraphs, lists, code blocks, inline code and
//! emphasis; links keep their text). Every character of the docs is escaped.

use rebound_core::Provider;

/// The heading of the section shown.
const SECTION: &str = "## Set-up, step by step";

/// A provider's page in `docs/providers/`.
fn doc(p: Provider) -> &'static str {
    match p {
        Provider::ToSend => include_str!("../../../../docs/providers/tosend.md"),
        Provider::Generic => include_str!("../../../../docs/providers/generic.md"),
        Provider::Listmonk => include_str!("../../../../docs/providers/listmonk.md"),
        Provider::Ses => include_str!("../../../../docs/providers/ses.md"),
        Provider::SendGrid => include_str!("../../../../docs/providers/sendgrid.md"),
        Provider::Postmark => include_str!("../../../../docs/providers/postmark.md"),
        Provider::Mailgun => include_str!("../../../../docs/providers/mailgun.md"),
        Provider::Resend => include_str!("../../../../docs/providers/resend.md"),
        Provider::SparkPost => include_str!("../../../../docs/providers/sparkpost.md"),
        Provider::Mailjet => include_str!("../../../../docs/providers/mailjet.md"),
        Provider::Brevo => include_str!("../../../../docs/providers/brevo.md"),
        Provider::Postal => include_str!("../../../../docs/providers/postal.md"),
        Provider::Mandrill => include_str!("../../../../docs/providers/mandrill.md"),
        Provider::MailerSend => include_str!("../../../../docs/providers/mailersend.md"),
        Provider::ForwardEmail => include_str!("../../../../docs/providers/forwardemail.md"),
        Provider::Mailtrap => include_str!("../../../../docs/providers/mailtrap.md"),
        Provider::UnisenderGo => include_str!("../../../../docs/providers/unisender-go.md"),
        Provider::Smtp2go => include_str!("../../../../docs/providers/smtp2go.md"),
        Provider::Lettermint => include_str!("../../../../docs/providers/lettermint.md"),
    }
}

/// The set-up steps of `provider` (a provider name) as HTML, escaped; empty for a name that
/// is no provider (a mailbox).
pub(super) fn steps_html(provider: &str) -> String {
    let Some(p) = Provider::from_name(provider) else {
        return String::new();
    };
    let md = doc(p);
    let Some(start) = md.find(SECTION) else {
        return String::new();
    };
    let body = &md[start + SECTION.len()..];
    let body = body
        .find("\n## ")
        .map_or(body, |end| &body[..end])
        .trim_matches('\n');
    let lines: Vec<&str> = body.lines().collect();
    blocks(&lines)
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// `line` without up to `n` leading spaces.
fn dedent(line: &str, n: usize) -> &str {
    let cut = indent(line).min(n);
    &line[cut..]
}

/// The list marker a line starts with: (ordered, width of the marker with its space).
fn marker(line: &str) -> Option<(bool, usize)> {
    if line.starts_with("- ") || line.starts_with("* ") {
        return Some((false, 2));
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    (digits > 0 && line[digits..].starts_with(". ")).then_some((true, digits + 2))
}

/// Renders lines (already dedented to their block's level) as HTML blocks.
fn blocks(lines: &[&str]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim().is_empty() {
            i += 1;
        } else if line.trim_start().starts_with("```") {
            let fence = indent(line);
            let mut code = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                code.push(dedent(lines[i], fence));
                i += 1;
            }
            i += 1;
            out.push_str("<pre><code>");
            out.push_str(&escape(&code.join("\n")));
            out.push_str("</code></pre>");
        } else if let Some((ordered, _)) = marker(line) {
            out.push_str(if ordered { "<ol>" } else { "<ul>" });
            while i < lines.len() {
                match marker(lines[i]) {
                    Some((o, width)) if o == ordered => {
                        let mut item = vec![&lines[i][width..]];
                        i += 1;
                        while i < lines.len()
                            && (lines[i].trim().is_empty() || indent(lines[i]) >= width)
                        {
                            item.push(dedent(lines[i], width));
                            i += 1;
                        }
                        out.push_str("<li>");
                        out.push_str(&blocks(&item));
                        out.push_str("</li>");
                    }
                    _ => break,
                }
            }
            out.push_str(if ordered { "</ol>" } else { "</ul>" });
        } else {
            let mut para = Vec::new();
            while i < lines.len()
                && !lines[i].trim().is_empty()
                && !lines[i].trim_start().starts_with("```")
                && (para.is_empty() || marker(lines[i]).is_none())
            {
                para.push(lines[i].trim());
                i += 1;
            }
            out.push_str("<p>");
            out.push_str(&inline(&para.join(" ")));
            out.push_str("</p>");
        }
    }
    out
}

/// Inline code, `**strong**`, `*em*` and `[text](link)` (the text kept); the rest escaped.
fn inline(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        let after = &rest[c.len_utf8()..];
        let span = |open: &str, close: &str| -> Option<(String, usize)> {
            let inner = rest.strip_prefix(open)?;
            let end = inner.find(close).filter(|e| *e > 0)?;
            Some((inner[..end].to_string(), open.len() + end + close.len()))
        };
        let done = match c {
            '`' => span("`", "`").map(|(t, n)| (format!("<code>{}</code>", escape(&t)), n)),
            '*' if rest.starts_with("**") => {
                span("**", "**").map(|(t, n)| (format!("<strong>{}</strong>", inline(&t)), n))
            }
            '*' => span("*", "*").map(|(t, n)| (format!("<em>{}</em>", inline(&t)), n)),
            '[' => span("[", "](").and_then(|(text, n)| {
                let close = rest[n..].find(')')?;
                Some((inline(&text), n + close + 1))
            }),
            _ => None,
        };
        match done {
            Some((html, n)) => {
                out.push_str(&html);
                rest = &rest[n..];
            }
            None => {
                out.push_str(&escape(&c.to_string()));
                rest = after;
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_has_its_steps() {
        for p in Provider::ALL {
            let html = steps_html(p.name());
            assert!(html.starts_with('<') && html.len() > 200, "{}", p.name());
            assert!(
                !html.contains("## ") && !html.contains("```"),
                "{}",
                p.name()
            );
        }
        let mailgun = steps_html("mailgun");
        assert!(mailgun.contains("<em>Sending → Webhooks</em>"), "{mailgun}");
        assert!(mailgun.contains("<ol><li>"), "{mailgun}");
        assert!(
            mailgun.contains("<pre><code>rebound source add --provider mailgun"),
            "{mailgun}"
        );
        assert_eq!(steps_html("mailbox"), "");
    }

    #[test]
    fn markup_is_escaped_and_simple() {
        let lines = [
            "Hello <b>&` <x> `**bold** *em*, [docs](../x.md) and a * star.",
            "",
            "1. One:",
            "",
            "   ```sh",
            "   echo '<hi>'",
            "   ```",
            "2. Two",
            "   - nested",
        ];
        assert_eq!(
            blocks(&lines),
            "<p>Hello &lt;b&gt;&amp;<code> &lt;x&gt; </code><strong>bold</strong> <em>em</em>, \
             docs and a * star.</p><ol><li><p>One:</p><pre><code>echo &#39;&lt;hi&gt;&#39;\
             </code></pre></li><li><p>Two</p><ul><li><p>nested</p></li></ul></li></ol>"
        );
    }
}
