/// PNG signature, packed as big endian
///
/// this corresponds to  { 137,80,78,71,13,10,26,10 }
pub const PNG_SIGNATURE: u64 = 9894494448401390090;
