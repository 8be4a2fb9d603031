//! What the fuzz targets check besides "no panic, no hang, no OOM": the
//! properties of a run's diagnostics any input must keep.

use thrift_gen::{Diagnostics, SourceMap};

/// Every label of every diagnostic lies inside its file and on character
/// boundaries. Rendering quietly falls back to a bare message for a span
/// that does not, so only this check notices such a bug.
pub fn assert_spans_in_bounds(sources: &SourceMap, diagnostics: &Diagnostics) {
    for d in diagnostics.iter() {
        for label in d.primary.iter().chain(&d.secondary) {
            let text = sources.text(label.span.file);
            let (start, end) = (label.span.start as usize, label.span.end as usize);
            assert!(
                start <= end && end <= text.len() && text.is_char_boundary(start) && text.is_char_boundary(end),
                "{d}: label span {start}..{end} is not a character range of `{}` ({} bytes)",
                sources.name(label.span.file),
                text.len(),
            );
        }
    }
}

/// Rendering shows every diagnostic: the text is empty exactly when the
/// list is (warnings included).
pub fn render_all(sources: &SourceMap, diagnostics: &Diagnostics) {
    let rendered = diagnostics.render(sources, true, false);
    assert_eq!(rendered.is_empty(), diagnostics.is_empty(), "rendered:\n{rendered}");
}
