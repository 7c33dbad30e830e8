//! AccessToken2's encoding primitives: little-endian `u16` and `u32`,
//! byte strings behind a `u16` length, and maps of `u16` keys to `u32`
//! values behind a `u16` count, sorted by key.

use std::collections::BTreeMap;

use super::TokenError;

/// Appends values in the token's encoding.
#[derive(Default)]
pub(super) struct Writer(Vec<u8>);

impl Writer {
    pub(super) fn u16(&mut self, value: u16) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    pub(super) fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    /// `u16(len) | bytes`; `field` names it when it is too long.
    pub(super) fn bytes(&mut self, field: &'static str, bytes: &[u8]) -> Result<(), TokenError> {
        self.u16(length(field, bytes.len())?);
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    /// `u16(count) | (u16(key) | u32(value))*`; a `BTreeMap` iterates in
    /// key order, which is the order Agora signs.
    pub(super) fn map(
        &mut self,
        field: &'static str,
        map: &BTreeMap<u16, u32>,
    ) -> Result<(), TokenError> {
        self.u16(length(field, map.len())?);
        for (&key, &value) in map {
            self.u16(key);
            self.u32(value);
        }
        Ok(())
    }

    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn length(field: &'static str, len: usize) -> Result<u16, TokenError> {
    u16::try_from(len).map_err(|_| TokenError::TooLong { field, len })
}

/// Reads values in the token's encoding from the front of a buffer; each
/// read names what it reads, for the error when the buffer ends early.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], TokenError> {
        if self.rest.len() < len {
            return Err(TokenError::Truncated { what });
        }
        let (taken, rest) = self.rest.split_at(len);
        self.rest = rest;
        Ok(taken)
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, TokenError> {
        let mut bytes = [0; 2];
        bytes.copy_from_slice(self.take(2, what)?);
        Ok(u16::from_le_bytes(bytes))
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, TokenError> {
        let mut bytes = [0; 4];
        bytes.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(bytes))
    }

    pub(super) fn bytes(&mut self, what: &'static str) -> Result<&'a [u8], TokenError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    pub(super) fn string(&mut self, what: &'static str) -> Result<String, TokenError> {
        let bytes = self.bytes(what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| TokenError::Utf8 { what })
    }

    pub(super) fn map(&mut self, what: &'static str) -> Result<BTreeMap<u16, u32>, TokenError> {
        let count = self.u16(what)?;
        let mut map = BTreeMap::new();
        for _ in 0..count {
            let key = self.u16(what)?;
            map.insert(key, self.u32(what)?);
        }
        Ok(map)
    }

    pub(super) fn remaining(&self) -> usize {
        self.rest.len()
    }
}
