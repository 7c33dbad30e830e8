//! Agora's published AccessToken2 test vectors (AGORA-API §16, from
//! AgoraIO/Tools' Python and Go tests): tokens are compared by their
//! decompressed content, since zlib libraries differ in their bytes.

use super::*;

const APP_ID: &str = "970CA35de60c44645bbae8a215061b33";
const CERTIFICATE: &str = "5CFd2fd1755d40ecb72977518be15d3b";
const CHANNEL: &str = "7d72365eb983485397e3e3f9d460bdda";
const UID: &str = "2882341273";
const ISSUED_AT: u32 = 1_111_111;
const SALT: u32 = 1;
const EXPIRE: u32 = 600;

/// `test_service_rtc` in python3/test/AccessToken2Test.py.
const PYTHON_RTC: &str = "007eJxTYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxgDCaiTj";
/// `test_service_rtc_uid_0`: the same with uid 0, encoded as "".
const PYTHON_RTC_UID_0: &str = "007eJxTYLhzZP08Lxa1Pg57+TcXb/3cZ3wi4V6kbpbOog0G2dOYk20UGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiQwMADacImo=";
/// `Test_AccessToken_Build_ServiceRtc` in go/src/accesstoken2: the first
/// vector again, compressed by Go's zlib writer.
const GO_RTC: &str = "007eJxSYBBbsMMnKq7p9Hf/HcIX5kce9b518kCiQgSr5Zrp4X1Tu6UUGCzNDZwdjU1TUs0Mkk1MzExMk5ISUy0SjQxNDcwMk4yN3b8IMEQwMTAwMoAwBIL4CgzmKeZGxmamqUmWFsYmFqbGluapxqnGaZYpJmYGSSkpiVwMRhYWRsYmhkbmxoAAAAD//8JqJOM=";

/// Python's builder (`zlib.compress` of the content) for a shorter channel
/// and uid: 112 bytes of content, 167 characters when stored uncompressed.
const PYTHON_SHORT: &str = "007eJxTYHhh8ET9w/3zViWRbnOPZquFxy9s+M3N0r5jvsKRpS2TZQ8oMFiaGzg7GpumpJoZJJuYmJmYJiUlplokGhmaGpgZJhkbu38RYIhgYmBgZABhCATxuRiKSxLzUkoLdE2M2BhMjcwtTAwBmvAfng==";

fn certificate() -> Secret {
    Secret::new(CERTIFICATE)
}

fn vector(uid: &str) -> RtcToken {
    RtcToken::join(APP_ID, CHANNEL, uid, ISSUED_AT, EXPIRE, SALT)
}

#[test]
fn the_signing_key_matches_the_published_intermediates() {
    assert_eq!(
        hex::encode(first_key(&certificate(), ISSUED_AT)),
        "e0f6141e54329d72102500478ec18e0020a5eeef53bbcccc442c6c2f7f178251"
    );
    assert_eq!(
        hex::encode(signing_key(&certificate(), ISSUED_AT, SALT).unwrap()),
        "cee2fa8dcbe868c30ca8c959d97fad4a5049c634da48449f1b8f59c14fa61073"
    );
}

#[test]
fn the_rtc_vector_is_reproduced_byte_for_byte_once_inflated() {
    let expected = content(PYTHON_RTC).unwrap();
    assert_eq!(expected.len(), 138);
    assert_eq!(hex::encode(&expected[..4]), "200016a0");
    assert_eq!(
        vector(UID).signed_content(&certificate()).unwrap(),
        expected
    );
    let built = vector(UID).build(&certificate()).unwrap();
    assert!(built.expose().starts_with("007eJ"), "a zlib stream");
    assert_eq!(content(built.expose()).unwrap(), expected);
    // Go's token compresses differently to the same content.
    assert_ne!(GO_RTC, PYTHON_RTC);
    assert_eq!(content(GO_RTC).unwrap(), expected);
}

#[test]
fn uid_0_is_encoded_as_an_empty_uid() {
    let expected = content(PYTHON_RTC_UID_0).unwrap();
    let token = vector("0");
    assert_eq!(token.uid, "");
    let built = token.build(&certificate()).unwrap();
    assert_eq!(content(built.expose()).unwrap(), expected);
    assert_eq!(decode(PYTHON_RTC_UID_0).unwrap().token.uid, "");
}

#[test]
fn a_published_token_decodes_to_its_fields_and_signature() {
    let decoded = decode(PYTHON_RTC).unwrap();
    assert_eq!(decoded.token, vector(UID));
    assert_eq!(
        decoded.token.privileges,
        BTreeMap::from([(PRIVILEGE_JOIN_CHANNEL, EXPIRE)])
    );
    assert_eq!(hex::encode(&decoded.signature[..2]), "16a0");
    assert!(decoded.is_signed_with(&certificate()));
    assert!(!decoded.is_signed_with(&Secret::new("0".repeat(32))));
    assert_eq!(decode(GO_RTC).unwrap(), decoded);
}

#[test]
fn more_privileges_are_signed_in_key_order() {
    let mut token = vector(UID);
    for privilege in [
        PRIVILEGE_PUBLISH_DATA_STREAM,
        PRIVILEGE_PUBLISH_VIDEO,
        PRIVILEGE_PUBLISH_AUDIO,
    ] {
        token.privileges.insert(privilege, 300);
    }
    let built = token.build(&certificate()).unwrap();
    let decoded = decode(built.expose()).unwrap();
    assert_eq!(decoded.token, token);
    assert!(decoded.is_signed_with(&certificate()));
    let info = token.signing_info().unwrap();
    // After the App ID (2 + 32), three u32s and the service count and
    // type: the map's count, then keys 1, 2, 3, 4 in that order.
    let map = &info[2 + 32 + 12 + 4..];
    assert_eq!(&map[..2], &[4, 0]);
    let keys: Vec<u8> = (0..4).map(|i| map[2 + i * 6]).collect();
    assert_eq!(keys, [1, 2, 3, 4]);
}

#[test]
fn minting_is_the_join_token_for_the_lifetime() {
    let minting = Minting::new(certificate(), Duration::from_secs(600));
    let minted = minting.mint(APP_ID, CHANNEL, UID, ISSUED_AT, SALT).unwrap();
    assert_eq!(
        content(minted.expose()).unwrap(),
        content(PYTHON_RTC).unwrap()
    );
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let decoded = decode(minting.mint_at(APP_ID, CHANNEL, UID, now).unwrap().expose()).unwrap();
    assert_eq!(decoded.token.issued_at, 1_800_000_000);
    assert!(SALT_RANGE.contains(&decoded.token.salt));
    assert!(decoded.is_signed_with(&certificate()));
}

#[test]
fn bad_inputs_are_refused_without_showing_them() {
    let bad_certificate = Secret::new("5CFd2fd1755d40ecb72977518be15d3!");
    let error = vector(UID).build(&bad_certificate).unwrap_err();
    assert!(matches!(error, TokenError::Certificate));
    assert!(
        !error
            .to_string()
            .contains("5CFd2fd1755d40ecb72977518be15d3")
    );
    let mut token = vector(UID);
    token.app_id = "970CA35de60c44645bbae8a215061b3".to_owned();
    assert!(matches!(
        token.build(&certificate()),
        Err(TokenError::AppId)
    ));
    token = vector(UID);
    token.channel = "c".repeat(70_000);
    assert!(matches!(
        token.build(&certificate()),
        Err(TokenError::TooLong { len: 70_000, .. })
    ));
    let too_long = Minting::new(certificate(), MAX_LIFETIME + Duration::from_secs(1));
    assert!(matches!(
        too_long.mint(APP_ID, CHANNEL, UID, ISSUED_AT, SALT),
        Err(TokenError::Lifetime { seconds: 86_401 })
    ));
    let debug = format!("{too_long:?}");
    assert!(!debug.contains(CERTIFICATE), "{debug}");
}

#[test]
fn what_is_not_a_token_is_refused() {
    assert!(matches!(decode("006abc"), Err(TokenError::Version)));
    assert!(matches!(decode("007!!!!"), Err(TokenError::Base64(_))));
    assert!(matches!(decode("007AAAA"), Err(TokenError::Inflate(_))));
    let content = vector(UID).signed_content(&certificate()).unwrap();
    let token = |bytes: &[u8]| format!("007{}", STANDARD.encode(zlib(bytes)));
    assert!(matches!(
        decode(&token(&content[..100])),
        Err(TokenError::Truncated { .. })
    ));
    let mut longer = content.clone();
    longer.push(0);
    assert!(matches!(
        decode(&token(&longer)),
        Err(TokenError::Trailing { len: 1 })
    ));
    let mut rtm = content;
    // The service type follows the signature (2 + 32), App ID (2 + 32),
    // three u32s and the service count.
    rtm[2 + 32 + 2 + 32 + 12 + 2] = 2;
    assert!(matches!(
        decode(&token(&rtm)),
        Err(TokenError::Service { service: 2 })
    ));
}

#[test]
fn tokens_are_compressed_as_agoras_python_builder_compresses_them() {
    let built = vector(UID).build(&certificate()).unwrap();
    assert_eq!(built.expose(), PYTHON_RTC);
    assert_eq!(built.expose().len(), 187);
    let uid_0 = vector("0").build(&certificate()).unwrap();
    assert_eq!(uid_0.expose(), PYTHON_RTC_UID_0);
    let short = RtcToken::join(APP_ID, "standup-42", "527841", ISSUED_AT, EXPIRE, SALT);
    let content = short.signed_content(&certificate()).unwrap();
    let stored = miniz_oxide::deflate::compress_to_vec_zlib(&content, 0);
    assert_eq!(
        (content.len(), VERSION.len() + STANDARD.encode(stored).len()),
        (112, 167)
    );
    let built = short.build(&certificate()).unwrap();
    assert_eq!((built.expose(), built.expose().len()), (PYTHON_SHORT, 155));
    let decoded = decode(built.expose()).unwrap();
    assert_eq!(decoded.token, short);
    assert!(decoded.is_signed_with(&certificate()));
}

#[test]
fn a_long_token_still_compresses_and_round_trips() {
    let mut token = vector(UID);
    token.channel = "room-".repeat(12);
    token.privileges.extend([
        (PRIVILEGE_PUBLISH_AUDIO, 600),
        (PRIVILEGE_PUBLISH_VIDEO, 600),
    ]);
    let content = token.signed_content(&certificate()).unwrap();
    let built = token.build(&certificate()).unwrap();
    assert!(
        built.expose().len() < VERSION.len() + (content.len() + 11).div_ceil(3) * 4,
        "shorter than stored"
    );
    let decoded = decode(built.expose()).unwrap();
    assert_eq!(decoded.token, token);
    assert!(decoded.is_signed_with(&certificate()));
}

/// The demo plan's first channel with the simulator's App ID (also its
/// certificate here): the stored stream made a 167-character token,
/// Python's builder makes 131 of the same content, and so does recplan.
#[test]
fn the_demo_token_is_as_short_as_pythons() {
    const DEMO: &str = "0123456789abcdef0123456789abcdef";
    const PYTHON_DEMO: &str = "007eJxTYNjRwXnktPDTZ395/NW3X/nMzKokFu8SvnHZd9VSgSV51QcUGAwMjYxNTM3MLSwTk5JTUtPQ+QyXPLMF+BgYGBlAGAJBfE6GlNTcfF0QwcZgamRuYWIIACT5Hr8=";
    let token = RtcToken::join(DEMO, "demo-demo", "527841", 1_800_000_000, 3600, 1);
    let certificate = Secret::new(DEMO);
    let content = token.signed_content(&certificate).unwrap();
    let stored = miniz_oxide::deflate::compress_to_vec_zlib(&content, 0);
    assert_eq!(VERSION.len() + STANDARD.encode(stored).len(), 167);
    let built = token.build(&certificate).unwrap();
    assert_eq!((built.expose(), built.expose().len()), (PYTHON_DEMO, 131));
    assert!(decode(built.expose()).unwrap().is_signed_with(&certificate));
}
