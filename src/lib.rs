//! TA-incode library (being written).
