//! What masking costs a contractor's pull: `mask_text` over message bodies as operators write
//! them (Russian and English, some with a phone, a card, an email, a handle), single-threaded.
//!
//! Run: `cargo bench -p okno-core --bench pii`. Prints ns per body and MB/s.

use std::hint::black_box;
use std::time::Instant;

use okno_core::pii::mask_text;

const BODIES: [&str; 6] = [
    "Здравствуйте! Заказ 5512 не пришёл, курьер не звонил. Мой номер +7 915 123-45-67, пишите на ivan.petrov@mail.ru. \
     Спасибо, жду ответа до пятницы.",
    "Hello, I paid with card 4276 1234 5678 9012 on 06.12.2026 and the order is still pending. Please call 8 (495) 555-01-02.",
    "Добрый день. Перезвоните, пожалуйста, после 18:00. Telegram @ivan_petrov. Сумма к возврату 1 500 ₽.",
    "Thank you for your help, everything works now!",
    "Re: [#1024] Счёт № 2026-1187 от 01.12.2026 на сумму 48 300 ₽ во вложении. С уважением, бухгалтерия ООО «Ромашка».",
    "Customer asked to move the delivery to Saturday 10:00–14:00; address unchanged; courier phone 89161112233.",
];

fn main() {
    let bodies: Vec<String> = (0..2000).map(|i| BODIES[i % BODIES.len()].repeat(1 + i % 3)).collect();
    let bytes: usize = bodies.iter().map(String::len).sum();
    // Warm up, then measure.
    for b in &bodies {
        black_box(mask_text(b));
    }
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        for b in &bodies {
            black_box(mask_text(black_box(b)));
        }
    }
    let elapsed = started.elapsed();
    let per_body = elapsed.as_nanos() as f64 / (rounds * bodies.len()) as f64;
    let mb_s = (rounds * bytes) as f64 / elapsed.as_secs_f64() / 1e6;
    println!("cargo bench -p okno-core --bench pii");
    println!(
        "mask_text: {} bodies of {:.0} bytes on average: {per_body:.0} ns per body, {mb_s:.1} MB/s (one core)",
        bodies.len(),
        bytes as f64 / bodies.len() as f64
    );
}
