//! Parallel bzip2 decoding. (Filled in by the performance work.)
