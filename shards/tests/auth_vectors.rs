//! Published signature vectors (`shared/exchanges/README.md`, `binance.md` §6.1, `okx.md` §6.1),
//! an Ed25519 PEM sign/verify round trip, request shapes, room id / fingerprint, and
//! "Debug never prints a secret".

use std::hash::{BuildHasher, Hasher};

use corefeed_shards::exchanges::binance::auth::{
    self as bauth, detect_key_type, hmac_sha256_hex, listen_key_request, normalize_pem,
    parse_listen_key, signature_payload, Ed25519Signer, KeyType, ListenKeyOp, Signer,
};
use corefeed_shards::exchanges::okx::auth as oauth;
use corefeed_shards::exchanges::user::Credentials;
use corefeed_shards::types::Provider;
use ed25519_dalek::pkcs8::{spki::der::pem::LineEnding, EncodePrivateKey};
use ed25519_dalek::{Signature, SigningKey, Verifier};

const BINANCE_KEY: &str = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A";
const BINANCE_SECRET: &str = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j";
const OKX_SECRET: &str = "chNOOS4KvNXR_Xq4k4c9qsfoKWvnDecLATCRlcBwyKDYnWgO";

struct Vector {
    name: &'static str,
    got: String,
    want: &'static str,
}

#[test]
fn published_signature_vectors() {
    let p = |pairs: &[(&'static str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect::<Vec<_>>()
    };
    // The docs' parameters, deliberately unsorted: the payload sorts them.
    let ascii = p(&[
        ("symbol", "BTCUSDT"),
        ("side", "SELL"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "0.01000000"),
        ("price", "52000.00"),
        ("recvWindow", "100"),
        ("timestamp", "1645423376532"),
        ("apiKey", BINANCE_KEY),
        ("signature", "ignored"),
    ]);
    let non_ascii = p(&[
        ("symbol", "１２３４５６"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1.00000000"),
        ("price", "0.10000000"),
        ("recvWindow", "5000"),
        ("timestamp", "1645423376532"),
        ("apiKey", BINANCE_KEY),
    ]);
    assert_eq!(
        signature_payload(&ascii),
        format!("apiKey={BINANCE_KEY}&price=52000.00&quantity=0.01000000&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&timestamp=1645423376532&type=LIMIT")
    );
    let vectors = [
        Vector {
            name: "binance HMAC (docs)",
            got: hmac_sha256_hex(BINANCE_SECRET, &signature_payload(&ascii)),
            want: "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        },
        Vector {
            name: "binance HMAC non-ASCII (docs)",
            got: hmac_sha256_hex(BINANCE_SECRET, &signature_payload(&non_ascii)),
            want: "b33892ae8e687c939f4468c6268ddd4c40ac1af18ad19a064864c47bae0752cd",
        },
        Vector {
            name: "binance Signer::Hmac",
            got: Signer::from_secret(BINANCE_SECRET)
                .unwrap()
                .sign(&signature_payload(&ascii)),
            want: "aa1b5712c094bc4e57c05a1a5c1fd8d88dcd628338ea863fec7b88e59fe2db24",
        },
        Vector {
            name: "okx REST (nautilus credential.rs)",
            got: oauth::hmac_sha256_base64(
                OKX_SECRET,
                "2020-12-08T09:08:57.715ZGET/api/v5/account/balance",
            ),
            want: "PJ61e1nb2F2Qd7D8SPiaIcx2gjdELc+o0ygzre9z33k=",
        },
        Vector {
            name: "okx WS login",
            got: oauth::login_sign(OKX_SECRET, "1538054050"),
            want: "ENpPNQ8mQv8YzDMPhBsB4SrjaKK+FaEh2nozTRW6KU0=",
        },
        Vector {
            name: "okx docs example secret",
            got: oauth::login_sign("22582BD0CFF14C41EDBF1AB98506286D", "1538054050"),
            want: "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M=",
        },
    ];
    for v in vectors {
        assert_eq!(v.got, v.want, "{}", v.name);
    }
}

fn random_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(8) {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id() as u64);
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    seed
}

#[test]
fn ed25519_pem_round_trip_and_logon_request() {
    let key = SigningKey::from_bytes(&random_seed());
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    assert_eq!(detect_key_type(&pem), KeyType::Ed25519);
    // The seed's stored form: newlines turned into spaces.
    let flattened = pem.replace('\n', " ");
    assert_eq!(normalize_pem(&flattened), pem);
    // …or into literal "\n" sequences.
    assert_eq!(normalize_pem(&pem.replace('\n', "\\n")), pem);
    let signer = Ed25519Signer::from_pem(&flattened).unwrap();
    assert_eq!(signer.verifying_key(), key.verifying_key());

    let logon = bauth::session_logon("req-1", "my-key", &signer, 1_649_729_878_532, None);
    let v: serde_json::Value = serde_json::from_str(&logon).unwrap();
    assert_eq!(v["id"], "req-1");
    assert_eq!(v["method"], "session.logon");
    assert_eq!(v["params"]["apiKey"], "my-key");
    assert_eq!(v["params"]["timestamp"], 1_649_729_878_532u64);
    let sig_b64 = v["params"]["signature"].as_str().unwrap();
    use base64::Engine as _;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig_b64)
        .unwrap();
    let sig = Signature::from_slice(&sig).unwrap();
    key.verifying_key()
        .verify(b"apiKey=my-key&timestamp=1649729878532", &sig)
        .expect("signature verifies");
    assert!(logon.starts_with(
        r#"{"id":"req-1","method":"session.logon","params":{"apiKey":"my-key","timestamp":1649729878532,"signature":""#
    ));

    // subscribe.signature with the same key, with recvWindow.
    let req = bauth::user_data_stream_subscribe_signature(
        "req-2",
        "my-key",
        &Signer::Ed25519(signer.clone()),
        1_747_385_641_636,
        Some(5000),
    );
    let v: serde_json::Value = serde_json::from_str(&req).unwrap();
    let sig = base64::engine::general_purpose::STANDARD
        .decode(v["params"]["signature"].as_str().unwrap())
        .unwrap();
    key.verifying_key()
        .verify(
            b"apiKey=my-key&recvWindow=5000&timestamp=1747385641636",
            &Signature::from_slice(&sig).unwrap(),
        )
        .unwrap();

    // A broken PEM is an error, not a panic.
    assert!(
        Ed25519Signer::from_pem("-----BEGIN PRIVATE KEY----- AAAA -----END PRIVATE KEY-----")
            .is_err()
    );
}

#[test]
fn binance_request_shapes() {
    assert_eq!(
        bauth::user_data_stream_subscribe("d3df8a21"),
        r#"{"id":"d3df8a21","method":"userDataStream.subscribe"}"#
    );
    assert_eq!(
        bauth::user_data_stream_unsubscribe("u1", Some(3)),
        r#"{"id":"u1","method":"userDataStream.unsubscribe","params":{"subscriptionId":3}}"#
    );
    assert_eq!(
        bauth::user_data_stream_unsubscribe("u2", None),
        r#"{"id":"u2","method":"userDataStream.unsubscribe"}"#
    );
    let hmac = Signer::from_secret(BINANCE_SECRET).unwrap();
    let req = bauth::user_data_stream_subscribe_signature(
        "s1",
        BINANCE_KEY,
        &hmac,
        1_645_423_376_532,
        None,
    );
    let want_sig = hmac_sha256_hex(
        BINANCE_SECRET,
        &format!("apiKey={BINANCE_KEY}&timestamp=1645423376532"),
    );
    assert_eq!(
        req,
        format!(
            r#"{{"id":"s1","method":"userDataStream.subscribe.signature","params":{{"apiKey":"{BINANCE_KEY}","timestamp":1645423376532,"signature":"{want_sig}"}}}}"#
        )
    );

    // Key types (seed §8.2).
    assert_eq!(detect_key_type(BINANCE_SECRET), KeyType::Hmac);
    assert_eq!(
        detect_key_type("-----BEGIN RSA PRIVATE KEY----- MIIE -----END RSA PRIVATE KEY-----"),
        KeyType::Rsa
    );
    assert!(Signer::from_secret(
        "-----BEGIN RSA PRIVATE KEY----- MIIE -----END RSA PRIVATE KEY-----"
    )
    .is_err());

    // Futures listen keys.
    let cases = [
        (
            Provider::BinanceUsdm,
            ListenKeyOp::Create,
            "POST",
            "https://fapi.binance.com/fapi/v1/listenKey",
        ),
        (
            Provider::BinanceUsdm,
            ListenKeyOp::KeepAlive,
            "PUT",
            "https://fapi.binance.com/fapi/v1/listenKey",
        ),
        (
            Provider::BinanceCoinm,
            ListenKeyOp::Close,
            "DELETE",
            "https://dapi.binance.com/dapi/v1/listenKey",
        ),
        (
            Provider::PaperBinanceCoinm,
            ListenKeyOp::Create,
            "POST",
            "https://dapi.binance.com/dapi/v1/listenKey",
        ),
    ];
    for (p, op, method, url) in cases {
        let r = listen_key_request(p, op, " K3Y-VAL ").unwrap();
        assert_eq!((r.method, r.url().as_str()), (method, url));
        assert_eq!(r.headers, vec![("X-MBX-APIKEY", "K3Y-VAL".to_owned())]);
        assert!(!format!("{r:?}").contains("K3Y-VAL"), "{r:?}");
    }
    assert!(listen_key_request(Provider::Binance, ListenKeyOp::Create, "k").is_err());
    assert_eq!(
        parse_listen_key(r#"{"listenKey":"pqia91ma19a5s61cv6a81va65sdf19v8a65a1"}"#).unwrap(),
        "pqia91ma19a5s61cv6a81va65sdf19v8a65a1"
    );
    assert!(parse_listen_key("{}").is_err());
}

#[test]
fn okx_request_shapes() {
    assert_eq!(
        oauth::login_request(
            "985d5b66-57ce-40fb-b714-afc0b9787083",
            "123456",
            OKX_SECRET,
            "1538054050"
        ),
        r#"{"op":"login","args":[{"apiKey":"985d5b66-57ce-40fb-b714-afc0b9787083","passphrase":"123456","timestamp":"1538054050","sign":"ENpPNQ8mQv8YzDMPhBsB4SrjaKK+FaEh2nozTRW6KU0="}]}"#
    );
    let creds = Credentials::new(
        "u",
        Provider::Okx,
        " k ",
        format!(" {OKX_SECRET}\n"),
        Some(" p ".into()),
    );
    assert_eq!(
        oauth::login_request_for(&creds, 1_538_054_050),
        r#"{"op":"login","args":[{"apiKey":"k","passphrase":"p","timestamp":"1538054050","sign":"ENpPNQ8mQv8YzDMPhBsB4SrjaKK+FaEh2nozTRW6KU0="}]}"#
    );
    assert_eq!(
        oauth::private_url(Some("my"), false),
        "wss://wseea.okx.com:8443/ws/v5/private"
    );
    assert_eq!(
        oauth::private_url(Some("app"), false),
        "wss://wsus.okx.com:8443/ws/v5/private"
    );
    assert_eq!(
        oauth::private_url(Some("com"), false),
        "wss://ws.okx.com:8443/ws/v5/private"
    );
    assert_eq!(
        oauth::private_url(None, false),
        "wss://ws.okx.com:8443/ws/v5/private"
    );
    assert_eq!(
        oauth::private_url(None, true),
        "wss://wspap.okx.com:8443/ws/v5/private"
    );
    assert_eq!(
        oauth::subscribe_request(Provider::Okx, true),
        r#"{"op":"subscribe","args":[{"channel":"account","extraParams":"{\"updateInterval\":\"0\"}"},{"channel":"orders","instType":"SPOT"}]}"#
    );
    assert_eq!(
        oauth::subscribe_request(Provider::OkxLinear, true),
        r#"{"op":"subscribe","args":[{"channel":"account","extraParams":"{\"updateInterval\":\"0\"}"},{"channel":"orders","instType":"SWAP"},{"channel":"orders","instType":"FUTURES"},{"channel":"positions","instType":"SWAP"},{"channel":"positions","instType":"FUTURES"}]}"#
    );
    assert_eq!(
        oauth::unsubscribe_request(Provider::OkxInverse, false),
        r#"{"op":"unsubscribe","args":[{"channel":"account","extraParams":"{\"updateInterval\":\"0\"}"},{"channel":"orders","instType":"SWAP"}]}"#
    );
}

#[test]
fn room_id_and_fingerprint() {
    // Expected values computed independently (Python hashlib) from the seed's formulas.
    let okx = Credentials::new(
        "u1",
        Provider::OkxLinear,
        " KEY",
        "SEC ",
        Some(" pass ".into()),
    )
    .with_okx_source(Some("my".into()));
    assert_eq!(okx.room_id(), "f18b1970606db4f5e696901bf75d1543ef6f23b4");
    assert_eq!(
        okx.fingerprint(),
        "6fb5106a1f512edade2b893b25e1aecd7c8457a0"
    );
    let bin = Credentials::new("u1", Provider::Binance, "KEY", "SEC", None);
    assert_eq!(bin.room_id(), "72353add31d199f39ba4d4eef8baa282108e456d");
    let cb = Credentials::new("x", Provider::Coinbase, "K EY", "S\nEC", None)
        .with_keys_type(Some("legacy".into()));
    assert_eq!(cb.fingerprint(), "3171e3e1a68355caadcf198e267f714f7a54370e");
    // A different secret ⇒ a different fingerprint (lifts the auth-cooldown gate).
    let other = Credentials::new(
        "u1",
        Provider::OkxLinear,
        "KEY",
        "SEC2",
        Some("pass".into()),
    );
    assert_ne!(other.fingerprint(), okx.fingerprint());
}

#[test]
fn debug_never_prints_a_secret() {
    let key = SigningKey::from_bytes(&random_seed());
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let body_line = pem.lines().nth(1).unwrap().to_owned();
    let creds = Credentials::new(
        "user-9",
        Provider::Okx,
        "APIKEY-VISIBLE?",
        "SECRET-VISIBLE?",
        Some("PASSPHRASE-VISIBLE?".into()),
    );
    for text in [
        format!("{creds:?}"),
        format!("{creds:#?}"),
        format!("{creds}"),
    ] {
        for secret in ["APIKEY-VISIBLE?", "SECRET-VISIBLE?", "PASSPHRASE-VISIBLE?"] {
            assert!(!text.contains(secret), "{text}");
        }
        assert!(text.contains("user-9") || text.contains("okx"));
    }
    let hmac = Signer::from_secret("SECRET-VISIBLE?").unwrap();
    assert!(!format!("{hmac:?}").contains("SECRET"));
    let ed = Signer::from_secret(&pem).unwrap();
    let dbg = format!("{ed:?} {:?}", Ed25519Signer::from_pem(&pem).unwrap());
    assert!(!dbg.contains(&body_line[..20]), "{dbg}");
    let r = listen_key_request(
        Provider::BinanceUsdm,
        ListenKeyOp::Create,
        "APIKEY-VISIBLE?",
    )
    .unwrap();
    assert!(!format!("{r:?}").contains("APIKEY-VISIBLE?"));
}
