//! Body templates: reshape the CloudEvent for receivers with their own request format.
//!
//! A template is a JSON document. Placeholders `{{path}}` inside its *string values*
//! are replaced from the CloudEvent, where `path` is `event` (the whole event) or a
//! dotted path into it: `id`, `type`, `subject`, `time`, `data.rule`,
//! `data.window.start`, `data.signals.0.value`…
//!
//! * A string that is exactly one placeholder becomes the value itself, with its JSON
//!   type: `"conf": "{{data}}"` gives an object, `"score": "{{data.signals.0.value}}"`
//!   a number.
//! * A placeholder inside a longer string is interpolated as text: strings without
//!   quotes, other values as compact JSON, a missing value or `null` as nothing:
//!   `"dag_run_id": "driftgauge-{{id}}"`.
//!
//! Because the template is parsed as JSON and rendered as JSON, the output is always
//! valid JSON and every value is escaped correctly. Placeholders are checked when the
//! delivery is built, against a complete sample event, so a typo is a start-up error
//! rather than a dead message. Keys are not templated.

use serde_json::{Map, Value};

/// A parsed body template.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyTemplate {
    root: Value,
}

impl BodyTemplate {
    /// Parses a template.
    ///
    /// # Errors
    ///
    /// The JSON error if `text` is not a JSON document.
    pub fn parse(text: &str) -> std::result::Result<Self, serde_json::Error> {
        Ok(Self { root: serde_json::from_str(text)? })
    }

    /// Every placeholder path used, in document order.
    pub fn placeholders(&self) -> Vec<String> {
        let mut out = Vec::new();
        collect(&self.root, &mut out);
        out
    }

    /// Renders the template over `event` (the CloudEvent as a JSON value). A path the
    /// event lacks renders as `null` (or as nothing inside a longer string).
    pub fn render(&self, event: &Value) -> Value {
        render(&self.root, event)
    }
}

/// Splits `s` into literal text and placeholder paths.
fn segments(s: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open + 2..].find("}}") else { break };
        if open > 0 {
            out.push(Segment::Text(&rest[..open]));
        }
        out.push(Segment::Path(rest[open + 2..open + 2 + close].trim()));
        rest = &rest[open + 2 + close + 2..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

#[derive(Debug, PartialEq)]
enum Segment<'a> {
    Text(&'a str),
    Path(&'a str),
}

fn collect(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.extend(segments(s).into_iter().filter_map(|seg| match seg {
            Segment::Path(p) => Some(p.to_owned()),
            Segment::Text(_) => None,
        })),
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(map) => map.values().for_each(|i| collect(i, out)),
        _ => {}
    }
}

/// Looks up a dotted path; `event` is the whole document.
pub(crate) fn lookup<'a>(event: &'a Value, path: &str) -> Option<&'a Value> {
    if path == "event" {
        return Some(event);
    }
    path.split('.').try_fold(event, |v, part| match v {
        Value::Object(map) => map.get(part),
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn render(v: &Value, event: &Value) -> Value {
    match v {
        Value::String(s) => {
            let segs = segments(s);
            match segs.as_slice() {
                [] => v.clone(),
                [Segment::Path(p)] => lookup(event, p).cloned().unwrap_or(Value::Null),
                _ => {
                    let mut text = String::with_capacity(s.len());
                    for seg in segs {
                        match seg {
                            Segment::Text(t) => text.push_str(t),
                            Segment::Path(p) => match lookup(event, p) {
                                Some(Value::String(x)) => text.push_str(x),
                                Some(Value::Null) | None => {}
                                Some(other) => text.push_str(&other.to_string()),
                            },
                        }
                    }
                    Value::String(text)
                }
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|i| render(i, event)).collect()),
        Value::Object(map) => Value::Object(
            map.iter().map(|(k, i)| (k.clone(), render(i, event))).collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "id": "0b9c-id",
            "type": "dev.driftgauge.retrain.requested",
            "subject": "fraud/v3",
            "data": {"rule": "drift", "model": "fraud", "signals": [{"name": "amount", "value": 0.31}], "dashboard_url": null}
        })
    }

    #[test]
    fn whole_string_placeholders_keep_their_type() {
        let t = BodyTemplate::parse(r#"{"conf": "{{data}}", "score": "{{ data.signals.0.value }}", "all": "{{event}}", "n": 3}"#)
            .expect("json");
        let out = t.render(&event());
        assert_eq!(out["conf"]["rule"], "drift");
        assert_eq!(out["score"], 0.31);
        assert_eq!(out["all"], event());
        assert_eq!(out["n"], 3);
    }

    #[test]
    fn embedded_placeholders_interpolate_text_and_escape() {
        let t = BodyTemplate::parse(r#"{"dag_run_id": "driftgauge-{{id}}", "note": "{{subject}} {{data.rule}} {{data.signals}} [{{data.dashboard_url}}]"}"#)
            .expect("json");
        let out = t.render(&event());
        assert_eq!(out["dag_run_id"], "driftgauge-0b9c-id");
        assert_eq!(out["note"], r#"fraud/v3 drift [{"name":"amount","value":0.31}] []"#);
        // The result is a JSON value, so serialising it escapes the quotes.
        assert!(out.to_string().contains(r#"\"name\""#));
    }

    #[test]
    fn placeholders_are_listed_and_missing_paths_are_null() {
        let t = BodyTemplate::parse(r#"["{{a.b}}", {"x": "pre {{c}} post {{d}}"}, "{{ unclosed"]"#)
            .expect("json");
        assert_eq!(t.placeholders(), vec!["a.b", "c", "d"]);
        let out = t.render(&event());
        assert_eq!(out[0], Value::Null);
        assert_eq!(out[1]["x"], "pre  post ");
        assert_eq!(out[2], "{{ unclosed");
        assert!(BodyTemplate::parse("{not json").is_err());
    }
}
