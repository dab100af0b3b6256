//! The report as PDF: its HTML printed by a headless Chromium, as a person prints it from a
//! browser. The browser is found on PATH (`chromium-headless-shell`, `chromium`, `google-chrome`)
//! or named by `AIMS_BROWSER`; aims itself draws no PDF.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The browsers tried, in order.
const BROWSERS: [&str; 4] = [
    "chromium-headless-shell",
    "chromium",
    "chromium-browser",
    "google-chrome",
];

/// Why no PDF was made.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// No browser to print with.
    #[error(
        "PDF needs a headless Chromium, and none was found on PATH ({}) or in AIMS_BROWSER: \
         install one (Debian: apt-get install chromium-headless-shell), or write the HTML \
         (-o html) and print it from a browser",
        BROWSERS.join(", ")
    )]
    NoBrowser,
    /// The browser failed.
    #[error("{browser} could not print the report: {message}")]
    Browser {
        /// The browser run.
        browser: String,
        /// What it said.
        message: String,
    },
    /// A temporary file could not be written or read.
    #[error("PDF: {0}")]
    Io(#[from] std::io::Error),
}

/// The browser to print with.
pub fn browser() -> Option<PathBuf> {
    if let Some(named) = std::env::var_os("AIMS_BROWSER") {
        return Some(PathBuf::from(named));
    }
    let path = std::env::var_os("PATH")?;
    BROWSERS.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// Whether this process runs as root, where Chromium runs only without its sandbox (the page is
/// the report's own, with no script).
fn as_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Prints `html` to a PDF and gives its bytes.
pub fn print(html: &str) -> Result<Vec<u8>, PdfError> {
    let browser = browser().ok_or(PdfError::NoBrowser)?;
    let dir = std::env::temp_dir().join(format!("aims-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = print_in(&browser, html, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn print_in(browser: &Path, html: &str, dir: &Path) -> Result<Vec<u8>, PdfError> {
    let page = dir.join("report.html");
    let pdf = dir.join("report.pdf");
    std::fs::write(&page, html)?;
    let mut cmd = Command::new(browser);
    cmd.args(["--headless", "--disable-gpu", "--no-pdf-header-footer"])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg(format!("--print-to-pdf={}", pdf.display()));
    if as_root() {
        cmd.arg("--no-sandbox");
    }
    let out = cmd
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| PdfError::Browser {
            browser: browser.display().to_string(),
            message: e.to_string(),
        })?;
    match std::fs::read(&pdf) {
        Ok(bytes) if out.status.success() && bytes.starts_with(b"%PDF") => Ok(bytes),
        _ => Err(PdfError::Browser {
            browser: browser.display().to_string(),
            message: String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.contains(":WARNING:"))
                .collect::<Vec<_>>()
                .join(" "),
        }),
    }
}
