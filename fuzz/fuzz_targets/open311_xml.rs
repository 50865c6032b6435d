//! Open311's XML answers carry residents' texts: whatever they typed, the document is well-formed
//! XML 1.0 and reads back as the text (less the characters XML cannot hold).
#![no_main]

use cityloop_http::open311::wire::{is_xml_char, xml_document};
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;

#[derive(serde::Serialize)]
struct Request<'a> {
    description: &'a str,
    address: &'a str,
}

fuzz_target!(|input: (&str, &str)| {
    let (description, address) = input;
    let Ok(document) = xml_document("service_request", &Request { description, address }) else { return };
    assert!(document.chars().all(is_xml_char), "a character XML 1.0 does not allow");
    let mut reader = quick_xml::Reader::from_str(&document);
    let mut texts = String::new();
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => break,
            Ok(Event::Text(t)) => texts.push_str(&t.decode().unwrap()),
            Ok(Event::GeneralRef(r)) => {
                let name = r.decode().unwrap();
                texts.push(match name.as_ref() {
                    "lt" => '<',
                    "gt" => '>',
                    "amp" => '&',
                    "apos" => '\'',
                    "quot" => '"',
                    other => panic!("unknown entity {other}"),
                });
            }
            Ok(_) => {}
            Err(e) => panic!("not well-formed: {e}\n{document}"),
        }
    }
    let kept = |s: &str| -> String {
        s.chars().filter(|c| is_xml_char(*c) && !c.is_control() || matches!(c, '\t' | '\n' | '\r')).collect()
    };
    let expected = format!("{}{}", kept(description), kept(address));
    // Whitespace at the edges of a text may be trimmed by the reader; the rest is the residents' text.
    assert_eq!(texts.split_whitespace().collect::<String>(), expected.split_whitespace().collect::<String>());
});
