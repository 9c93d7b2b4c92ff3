//! Reads back the QR codes a terminal shows, the way a phone camera would:
//! character cells become modules (a block is a lit cell, i.e. a light module
//! on the usual dark terminal background) and a real QR decoder reads them.

/// Characters the terminal QR code is drawn with (two modules per cell).
const QR_CELLS: [char; 4] = ['█', '▀', '▄', ' '];

/// Every QR code drawn in `transcript`, decoded, in order of appearance.
pub fn decode_all(transcript: &str) -> Vec<String> {
    pictures(transcript)
        .iter()
        .filter_map(|rows| decode(rows))
        .collect()
}

/// Runs of consecutive lines made only of QR cells.
fn pictures(transcript: &str) -> Vec<Vec<Vec<char>>> {
    let mut pictures = Vec::new();
    let mut current: Vec<Vec<char>> = Vec::new();
    for line in transcript.split('\n') {
        let line = line.trim_end_matches('\r');
        let is_qr_row = line.chars().count() >= 21
            && line.contains('█')
            && line.chars().all(|c| QR_CELLS.contains(&c));
        if is_qr_row {
            current.push(line.chars().collect());
        } else if !current.is_empty() {
            pictures.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        pictures.push(current);
    }
    pictures
}

/// Decodes one picture, or `None` if it is not a readable QR code.
fn decode(rows: &[Vec<char>]) -> Option<String> {
    const SCALE: usize = 4;
    let width = rows.iter().map(Vec::len).max()?;
    let height = rows.len() * 2;
    let lit = |x: usize, y: usize| -> bool {
        match rows[y / 2].get(x) {
            Some('█') => true,
            Some('▀') => y % 2 == 0,
            Some('▄') => y % 2 == 1,
            _ => false,
        }
    };
    let mut image =
        rqrr::PreparedImage::prepare_from_bitmap(width * SCALE, height * SCALE, |x, y| {
            !lit(x / SCALE, y / SCALE)
        });
    let grids = image.detect_grids();
    let grid = grids.first()?;
    grid.decode().ok().map(|(_, content)| content)
}
