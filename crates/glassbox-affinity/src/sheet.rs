//! PNG sheets for support attributions (filled in below).
