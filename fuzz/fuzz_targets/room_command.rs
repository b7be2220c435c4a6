//! `usersStreamAction` command parser: `RoomCommand::parse` (the RabbitMQ body
//! `{"payload": CMD}`) and `RoomCommand::parse_inner` (the admin API's bare CMD) on the same
//! bytes. Checks: no panic; an open has a non-empty room id; the Debug form of a command never
//! shows the key, secret or passphrase (unless that text is also in a field that may be shown).
#![no_main]
use corefeed::control::rooms::RoomCommand;
use libfuzzer_sys::fuzz_target;

fn check(cmd: &RoomCommand) {
    match cmd {
        RoomCommand::Open { room_id, creds } => {
            assert!(!room_id.is_empty(), "open without a room id");
            let shown = format!("{cmd:?}");
            let public = format!(
                "{room_id} {} {:?} {:?} {}",
                creds.user_id,
                creds.keys_type,
                creds.okx_source,
                creds.provider.as_str()
            );
            for (what, s) in [
                ("key", creds.key()),
                ("secret", creds.secret()),
                ("passphrase", creds.passphrase()),
            ] {
                // Short or non-alphanumeric texts can appear by accident or be escaped by Debug.
                if s.len() >= 6
                    && s.bytes().all(|b| b.is_ascii_alphanumeric())
                    && !public.contains(s)
                    && !"Credentials REDACTED".contains(s)
                {
                    assert!(
                        !shown.contains(s),
                        "Debug of a room command shows the {what}"
                    );
                }
            }
            // Display (log lines) too.
            let display = creds.to_string();
            for (what, s) in [("key", creds.key()), ("secret", creds.secret())] {
                if s.len() >= 6
                    && s.bytes().all(|b| b.is_ascii_alphanumeric())
                    && !public.contains(s)
                    && !"credentials of user fingerprint".contains(s)
                {
                    assert!(
                        !display.contains(s),
                        "Display of credentials shows the {what}"
                    );
                }
            }
        }
        RoomCommand::Close { room_id } | RoomCommand::Restart { room_id } => {
            assert!(
                !room_id.trim().is_empty(),
                "close/restart with a blank room id"
            )
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = RoomCommand::parse(data) {
        check(&cmd);
    }
    if let Ok(cmd) = RoomCommand::parse_inner(data) {
        check(&cmd);
    }
});
