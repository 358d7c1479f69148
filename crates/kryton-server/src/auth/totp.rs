//! TOTP codes (RFC 6238: SHA-1, six digits, 30-second steps, what every authenticator app reads)
//! and backup codes. The code arithmetic is `totp-rs`'s; the QR picture is `qrcode`'s.

use totp_rs::{Algorithm, TOTP};

use crate::store::random_hex;

/// Seconds per code.
pub const STEP_SECONDS: u64 = 30;
/// How many backup codes a user gets at a time.
pub const BACKUP_CODES: usize = 10;
/// Wrong codes a pending sign-in survives before the user must give the password again.
pub const CHALLENGE_FAILURES: i32 = 5;
/// How long a pending sign-in waits for its code.
pub const CHALLENGE_TTL_MS: i64 = 5 * 60 * 1000;

const ISSUER: &str = "Kryton";

/// A new 160-bit secret, base32 as authenticator apps expect it.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    if getrandom::fill(&mut bytes).is_err() {
        tracing::error!("the operating system's random number generator failed");
        std::process::abort();
    }
    totp_rs::Secret::Raw(bytes.to_vec()).to_encoded().to_string()
}

fn totp(secret: &str, account: &str) -> Option<TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned()).to_bytes().ok()?;
    // `new_unchecked`: an email may contain characters the checked constructor refuses (':'),
    // and the secret is ours (always 160 bits). Skew 0: the caller tries the neighbouring steps itself.
    Some(TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        0,
        STEP_SECONDS,
        bytes,
        Some(ISSUER.to_owned()),
        account.replace(':', "_"),
    ))
}

/// The `otpauth://` URI an authenticator app reads from the QR code.
pub fn otpauth_uri(secret: &str, account: &str) -> Option<String> {
    totp(secret, account).map(|t| t.get_url())
}

/// The QR code of `text` as an SVG document.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    Some(
        code.render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build(),
    )
}

/// The 30-second step whose code `code` is, among the previous, current and next step at `now`
/// (seconds since the epoch): clocks of phones drift, and a code typed at the end of its step
/// arrives in the next one.
pub fn matching_step(secret: &str, code: &str, now: u64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "")?;
    let current = now / STEP_SECONDS;
    [current.saturating_sub(1), current, current + 1]
        .into_iter()
        .find(|step| totp.check(code, step * STEP_SECONDS))
        .and_then(|step| i64::try_from(step).ok())
}

/// Ten new backup codes, `xxxx-xxxx-xxxx-xxxx` in lower-case hex (64 random bits each: too many
/// to guess online, and costly to invert from their SHA-256 should the database leak).
pub fn new_backup_codes() -> Vec<String> {
    (0..BACKUP_CODES)
        .map(|_| {
            let hex = random_hex(8);
            format!("{}-{}-{}-{}", &hex[..4], &hex[4..8], &hex[8..12], &hex[12..])
        })
        .collect()
}

/// A backup code as typed (any case, spaces or dashes) in the form that is hashed.
pub fn normalise_backup_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_of_now_and_its_neighbours_match_and_nothing_else() {
        let secret = new_secret();
        let t = totp(&secret, "a@example.org").unwrap();
        let now = 1_800_000_000;
        let step = (now / STEP_SECONDS) as i64;
        assert_eq!(matching_step(&secret, &t.generate(now), now), Some(step));
        assert_eq!(matching_step(&secret, &t.generate(now + 30), now), Some(step + 1));
        assert_eq!(matching_step(&secret, &t.generate(now - 30), now), Some(step - 1));
        assert_eq!(matching_step(&secret, &t.generate(now + 90), now), None);
        assert_eq!(matching_step(&secret, "12345", now), None);
        assert!(
            otpauth_uri(&secret, "a@example.org")
                .unwrap()
                .starts_with("otpauth://totp/")
        );
        assert!(qr_svg("otpauth://totp/x").unwrap().contains("<svg"));
    }

    #[test]
    fn backup_codes_are_distinct_and_normalised() {
        let codes = new_backup_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            normalise_backup_code(&codes[0].to_uppercase()),
            codes[0].replace('-', "")
        );
    }
}
