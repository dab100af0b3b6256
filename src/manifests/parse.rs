//! Splitting text into documents: YAML streams (`---` separated) and JSON (one object or several
//! concatenated), each document with its first line, and syntax errors with theirs.

use serde_json::Value;
use serde_saphyr::MessageFormatter;

use super::*;

#[derive(Default)]
pub(super) struct Sink {
    pub(super) documents: Vec<Document>,
    pub(super) errors: Vec<LoadError>,
}

/// YAML as kubectl reads it (go-yaml's YAML 1.1 scalars): `0755` is octal, 493, as in a volume's
/// `defaultMode` that every chart writes that way; `yes`, `no`, `on` and `off` are booleans.
pub(super) fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.with_snippet = false;
    options.legacy_octal_numbers = true;
    options.strict_booleans = false;
    options
}

/// Reads the documents of one file's text. `file` names the file in [`Source`] and decides the
/// format: a name ending in `.json` is read as JSON; other text is read as JSON when it is a
/// well-formed JSON object (or several), and as YAML otherwise.
///
/// Pure: no I/O. Never panics. Empty and comment-only documents yield nothing; every other
/// document yields a [`Document`] or at least one [`LoadError`].
pub fn parse_text(file: &str, text: &str) -> (Vec<Document>, Vec<LoadError>) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut sink = Sink::default();
    let is_json_file = file.to_ascii_lowercase().ends_with(".json");
    if is_json_file || text.trim_start().starts_with('{') {
        let (values, error) = parse_json_stream(text);
        if is_json_file || error.is_none() {
            read_json(file, text, values, error, &mut sink);
            return (sink.documents, sink.errors);
        }
    }
    read_yaml(file, text, &mut sink);
    (sink.documents, sink.errors)
}

/// The values of a JSON stream with the byte range of each, and the error that ended it early.
pub(super) fn parse_json_stream(
    text: &str,
) -> (Vec<(usize, usize, Value)>, Option<serde_json::Error>) {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut values = Vec::new();
    loop {
        let pos = stream.byte_offset();
        let rest = text.get(pos..).unwrap_or_default();
        let start = pos + (rest.len() - rest.trim_start().len());
        match stream.next() {
            None => return (values, None),
            Some(Ok(value)) => values.push((start, stream.byte_offset(), value)),
            Some(Err(e)) => return (values, Some(e)),
        }
    }
}

pub(super) fn read_json(
    file: &str,
    text: &str,
    values: Vec<(usize, usize, Value)>,
    error: Option<serde_json::Error>,
    sink: &mut Sink,
) {
    let mut document = 0;
    let mut next_start = 0;
    for (start, end, value) in values {
        document += 1;
        next_start = end;
        let origin = Source {
            file: file.to_owned(),
            document,
            line: line_at(text, start),
        };
        let spans = Spans::new(
            text.get(start..end).unwrap_or_default(),
            line_at(text, start),
        );
        read_document(value, &origin, &spans, sink);
    }
    if let Some(e) = error {
        let rest = text.get(next_start..).unwrap_or_default();
        let start = next_start + (rest.len() - rest.trim_start().len());
        let location = format!(" at line {} column {}", e.line(), e.column());
        let message = e.to_string();
        let message = message
            .strip_suffix(&location)
            .unwrap_or(&message)
            .to_owned();
        let origin = Source {
            file: file.to_owned(),
            document: document + 1,
            line: line_at(text, start),
        };
        sink.errors.push(LoadError::Syntax {
            line: if e.line() == 0 { origin.line } else { e.line() },
            column: (e.column() > 0).then_some(e.column()),
            origin,
            message,
        });
    }
}

/// One `---`-separated part of a YAML stream.
#[derive(Clone, Copy)]
pub(super) struct Chunk {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) first_line: usize,
}

/// What a chunk holds.
pub(super) enum ChunkContent {
    /// Nothing but blank lines, comments and markers.
    Empty,
    /// Directives (`%YAML`, `%TAG`), which belong to the next document.
    Directives,
    /// A document whose content starts at this line.
    Document(usize),
}

/// Whether `line` is the document marker `marker` (`---` or `...`), alone or followed by a space.
pub(super) fn is_marker(line: &str, marker: &str) -> bool {
    line.strip_prefix(marker)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Splits a YAML stream at its document markers. A `---` line starts a new chunk (and is part of
/// it); a `...` line ends the chunk it is in. Markers are only recognised at the start of a line,
/// where YAML allows nothing else.
pub(super) fn split_yaml(text: &str) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut first_line = 1;
    let mut offset = 0;
    let mut line_no = 1;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if is_marker(bare, "---") && offset > start {
            chunks.push(Chunk {
                start,
                end: offset,
                first_line,
            });
            start = offset;
            first_line = line_no;
        }
        offset += line.len();
        line_no += 1;
        if is_marker(bare, "...") {
            chunks.push(Chunk {
                start,
                end: offset,
                first_line,
            });
            start = offset;
            first_line = line_no;
        }
    }
    if start < text.len() {
        chunks.push(Chunk {
            start,
            end: text.len(),
            first_line,
        });
    }
    chunks
}

pub(super) fn chunk_content(text: &str, first_line: usize) -> ChunkContent {
    let mut directives = false;
    for (i, line) in text.lines().enumerate() {
        let rest = if is_marker(line, "---") || is_marker(line, "...") {
            &line[3..]
        } else {
            line
        };
        let trimmed = rest.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with('%') {
            directives = true;
            continue;
        }
        return ChunkContent::Document(first_line + i);
    }
    if directives {
        ChunkContent::Directives
    } else {
        ChunkContent::Empty
    }
}

pub(super) fn read_yaml(file: &str, text: &str, sink: &mut Sink) {
    let mut document = 0;
    let mut directives: Option<Chunk> = None;
    for chunk in split_yaml(text) {
        let chunk = match directives.take() {
            Some(d) => Chunk {
                start: d.start,
                first_line: d.first_line,
                ..chunk
            },
            None => chunk,
        };
        let chunk_text = text.get(chunk.start..chunk.end).unwrap_or_default();
        let line = match chunk_content(chunk_text, chunk.first_line) {
            ChunkContent::Empty => continue,
            ChunkContent::Directives => {
                directives = Some(chunk);
                continue;
            }
            ChunkContent::Document(line) => line,
        };
        document += 1;
        let origin = Source {
            file: file.to_owned(),
            document,
            line,
        };
        parse_yaml_document(chunk_text, chunk, origin, sink);
    }
    if let Some(d) = directives {
        // Directives and no document after them: read as the (empty or broken) document it is.
        let origin = Source {
            file: file.to_owned(),
            document: document + 1,
            line: d.first_line,
        };
        parse_yaml_document(
            text.get(d.start..d.end).unwrap_or_default(),
            d,
            origin,
            sink,
        );
    }
}

pub(super) fn parse_yaml_document(chunk_text: &str, chunk: Chunk, origin: Source, sink: &mut Sink) {
    match serde_saphyr::from_str_with_options::<Value>(chunk_text, yaml_options()) {
        Ok(value) => {
            let spans = Spans::new(chunk_text, chunk.first_line);
            read_document(value, &origin, &spans, sink);
        }
        Err(e) => sink
            .errors
            .push(yaml_syntax_error(&e, origin, chunk.first_line)),
    }
}

pub(super) fn yaml_syntax_error(
    e: &serde_saphyr::Error,
    origin: Source,
    first_line: usize,
) -> LoadError {
    let mut inner = e.without_snippet();
    while let serde_saphyr::Error::AliasError { error, .. } = inner {
        inner = error.without_snippet();
    }
    let message: String = serde_saphyr::UserMessageFormatter
        .format_message(inner)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect();
    let location = e.location().filter(|l| l.line() > 0);
    let line = location
        .and_then(|l| usize::try_from(l.line()).ok())
        .and_then(|l| first_line.checked_add(l - 1))
        .unwrap_or(origin.line);
    let column = location
        .and_then(|l| usize::try_from(l.column()).ok())
        .filter(|c| *c > 0);
    LoadError::Syntax {
        origin,
        line,
        column,
        message,
    }
}
