//! How non-finite floats are written to JSON, and read back.
//!
//! JSON has no number for NaN or ±infinity, and `serde_json` writes them as
//! `null`, which also means "absent" or "undefined". A chi-square statistic
//! of `+inf` (the current data has a bin the reference never saw) would then
//! read as "not computed", and a profile whose mean overflowed could not be
//! read back at all. driftgauge therefore writes them as the strings
//! `"NaN"`, `"Infinity"` and `"-Infinity"`: strict JSON that every parser
//! reads, that `float("Infinity")` in Python and `Number("Infinity")` in
//! JavaScript turn back into the value, and that the golden fixtures use too.
//! `null` keeps its one meaning: a statistic that was not computed.
//!
//! * **Writing.** [`NonFinite`] wraps any `Serialize` value so that every
//!   `f32` and `f64` inside it, however deeply nested, is written this way.
//!   Every JSON document that leaves the engine (the check report, baselines,
//!   registry exports, checkpoints, webhook events) is written through it.
//! * **Reading.** Fields that are read back and can hold a non-finite value
//!   are declared `#[serde(with = "driftgauge_detectors::json::float")]` (or
//!   [`option_float`] for an `Option<f64>`), which writes the same strings
//!   and accepts them, as well as plain numbers, when reading. A field-level
//!   attribute is needed for reading because serde buffers internally tagged
//!   and flattened structs before it reads their fields, out of reach of any
//!   wrapper around the deserializer.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

/// The text written for NaN.
pub const NAN: &str = "NaN";
/// The text written for `+inf`.
pub const INFINITY: &str = "Infinity";
/// The text written for `-inf`.
pub const NEG_INFINITY: &str = "-Infinity";

/// The string for a non-finite `x`, `None` for a finite one.
pub fn non_finite_text(x: f64) -> Option<&'static str> {
    if x.is_nan() {
        Some(NAN)
    } else if x == f64::INFINITY {
        Some(INFINITY)
    } else if x == f64::NEG_INFINITY {
        Some(NEG_INFINITY)
    } else {
        None
    }
}

/// The value of one of the three strings, `None` for any other text.
pub fn parse_non_finite(text: &str) -> Option<f64> {
    match text {
        NAN => Some(f64::NAN),
        INFINITY => Some(f64::INFINITY),
        NEG_INFINITY => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

/// `f64` fields written as a number, or as `"NaN"`, `"Infinity"` or
/// `"-Infinity"`, and read from either form. Use with
/// `#[serde(with = "driftgauge_detectors::json::float")]`.
pub mod float {
    use super::*;

    /// Writes `x` as a number, or as its string when it is not finite.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    pub fn serialize<S: Serializer>(x: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        match non_finite_text(*x) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_f64(*x),
        }
    }

    /// Reads a number, or one of the three strings.
    ///
    /// # Errors
    /// Any other value, named in the message.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        deserializer.deserialize_any(FloatVisitor)
    }
}

/// `Option<f64>` fields: `None` is `null`, a value is written as by
/// [`float`]. Use with `#[serde(default, with = "driftgauge_detectors::json::option_float")]`.
pub mod option_float {
    use super::*;

    /// Writes `null`, a number, or the string of a non-finite value.
    ///
    /// # Errors
    /// Whatever the serializer returns.
    pub fn serialize<S: Serializer>(x: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
        match x {
            None => serializer.serialize_none(),
            Some(x) => float::serialize(x, serializer),
        }
    }

    /// Reads `null`, a number, or one of the three strings.
    ///
    /// # Errors
    /// Any other value, named in the message.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<f64>, D::Error> {
        deserializer.deserialize_any(OptionFloatVisitor)
    }
}

struct FloatVisitor;

impl<'de> Visitor<'de> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"a number, "NaN", "Infinity" or "-Infinity""#)
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<f64, E> {
        Ok(x)
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<f64, E> {
        Ok(x as f64)
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<f64, E> {
        Ok(x as f64)
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<f64, E> {
        parse_non_finite(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

struct OptionFloatVisitor;

impl<'de> Visitor<'de> for OptionFloatVisitor {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(r#"null, a number, "NaN", "Infinity" or "-Infinity""#)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Option<f64>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<f64>, D::Error> {
        float::deserialize(deserializer).map(Some)
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Option<f64>, E> {
        Ok(Some(x))
    }

    fn visit_i64<E: de::Error>(self, x: i64) -> Result<Option<f64>, E> {
        Ok(Some(x as f64))
    }

    fn visit_u64<E: de::Error>(self, x: u64) -> Result<Option<f64>, E> {
        Ok(Some(x as f64))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Option<f64>, E> {
        FloatVisitor.visit_str(text).map(Some)
    }
}

/// A value whose floats are all written as [`float`] writes them: numbers,
/// or `"NaN"`, `"Infinity"` and `"-Infinity"` (see the module docs).
///
/// ```
/// use driftgauge_detectors::json::NonFinite;
///
/// let values = vec![1.5, f64::INFINITY, f64::NAN];
/// let json = serde_json::to_string(&NonFinite(&values)).unwrap();
/// assert_eq!(json, r#"[1.5,"Infinity","NaN"]"#);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct NonFinite<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized + Serialize> Serialize for NonFinite<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Wrap(serializer))
    }
}

/// A serializer that passes everything to the one it wraps, except
/// non-finite floats, and wraps every nested value the same way.
struct Wrap<S>(S);

impl<S: Serializer> Serializer for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Wrap<S::SerializeSeq>;
    type SerializeTuple = Wrap<S::SerializeTuple>;
    type SerializeTupleStruct = Wrap<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Wrap<S::SerializeTupleVariant>;
    type SerializeMap = Wrap<S::SerializeMap>;
    type SerializeStruct = Wrap<S::SerializeStruct>;
    type SerializeStructVariant = Wrap<S::SerializeStructVariant>;

    fn serialize_f64(self, x: f64) -> Result<S::Ok, S::Error> {
        float::serialize(&x, self.0)
    }

    fn serialize_f32(self, x: f32) -> Result<S::Ok, S::Error> {
        match non_finite_text(f64::from(x)) {
            Some(text) => self.0.serialize_str(text),
            None => self.0.serialize_f32(x),
        }
    }

    fn serialize_bool(self, v: bool) -> Result<S::Ok, S::Error> {
        self.0.serialize_bool(v)
    }
    fn serialize_i8(self, v: i8) -> Result<S::Ok, S::Error> {
        self.0.serialize_i8(v)
    }
    fn serialize_i16(self, v: i16) -> Result<S::Ok, S::Error> {
        self.0.serialize_i16(v)
    }
    fn serialize_i32(self, v: i32) -> Result<S::Ok, S::Error> {
        self.0.serialize_i32(v)
    }
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        self.0.serialize_i64(v)
    }
    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        self.0.serialize_i128(v)
    }
    fn serialize_u8(self, v: u8) -> Result<S::Ok, S::Error> {
        self.0.serialize_u8(v)
    }
    fn serialize_u16(self, v: u16) -> Result<S::Ok, S::Error> {
        self.0.serialize_u16(v)
    }
    fn serialize_u32(self, v: u32) -> Result<S::Ok, S::Error> {
        self.0.serialize_u32(v)
    }
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        self.0.serialize_u64(v)
    }
    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        self.0.serialize_u128(v)
    }
    fn serialize_char(self, v: char) -> Result<S::Ok, S::Error> {
        self.0.serialize_char(v)
    }
    fn serialize_str(self, v: &str) -> Result<S::Ok, S::Error> {
        self.0.serialize_str(v)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<S::Ok, S::Error> {
        self.0.serialize_bytes(v)
    }
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_none()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.0.serialize_some(&NonFinite(value))
    }
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit()
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_struct(name)
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_struct(name, &NonFinite(value))
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.0.serialize_newtype_variant(name, index, variant, &NonFinite(value))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.0.serialize_seq(len).map(Wrap)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.0.serialize_tuple(len).map(Wrap)
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.0.serialize_tuple_struct(name, len).map(Wrap)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.0.serialize_tuple_variant(name, index, variant, len).map(Wrap)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.0.serialize_map(len).map(Wrap)
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.0.serialize_struct(name, len).map(Wrap)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.0.serialize_struct_variant(name, index, variant, len).map(Wrap)
    }
    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

impl<S: ser::SerializeSeq> ser::SerializeSeq for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&NonFinite(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTuple> ser::SerializeTuple for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_element(&NonFinite(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTupleStruct> ser::SerializeTupleStruct for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_field(&NonFinite(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeTupleVariant> ser::SerializeTupleVariant for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_field(&NonFinite(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeMap> ser::SerializeMap for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), S::Error> {
        self.0.serialize_key(&NonFinite(key))
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<(), S::Error> {
        self.0.serialize_value(&NonFinite(value))
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeStruct> ser::SerializeStruct for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, &NonFinite(value))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.0.skip_field(key)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

impl<S: ser::SerializeStructVariant> ser::SerializeStructVariant for Wrap<S> {
    type Ok = S::Ok;
    type Error = S::Error;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        self.0.serialize_field(key, &NonFinite(value))
    }
    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.0.skip_field(key)
    }
    fn end(self) -> Result<S::Ok, S::Error> {
        self.0.end()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, Deserialize)]
    #[serde(tag = "kind")]
    enum Tagged {
        Point {
            #[serde(with = "float")]
            x: f64,
            #[serde(default, with = "option_float")]
            y: Option<f64>,
        },
    }

    #[derive(Debug, serde::Serialize)]
    struct Nested {
        plain: f64,
        list: Vec<f64>,
        map: BTreeMap<String, f64>,
        maybe: Option<f32>,
        tuple: (f64, &'static str),
        tagged: Tagged,
    }

    #[test]
    fn every_nested_float_is_written_as_number_or_string() {
        let value = Nested {
            plain: f64::NAN,
            list: vec![1.0, f64::INFINITY, -0.5],
            map: [("a".to_owned(), f64::NEG_INFINITY)].into(),
            maybe: Some(f32::INFINITY),
            tuple: (2.5, "Infinity"),
            tagged: Tagged::Point { x: f64::INFINITY, y: None },
        };
        let json = serde_json::to_string(&NonFinite(&value)).unwrap();
        assert_eq!(
            json,
            r#"{"plain":"NaN","list":[1.0,"Infinity",-0.5],"map":{"a":"-Infinity"},"maybe":"Infinity","tuple":[2.5,"Infinity"],"tagged":{"kind":"Point","x":"Infinity","y":null}}"#
        );
        // Without the wrapper serde_json loses the difference.
        assert!(serde_json::to_string(&value).unwrap().starts_with(r#"{"plain":null"#));
    }

    #[test]
    fn fields_round_trip_through_tagged_enums_and_values() {
        for x in [f64::INFINITY, f64::NEG_INFINITY, 1.25, -3.0] {
            for y in [None, Some(f64::NEG_INFINITY), Some(0.5)] {
                let point = Tagged::Point { x, y };
                let json = serde_json::to_string(&point).unwrap();
                assert_eq!(serde_json::from_str::<Tagged>(&json).unwrap(), point, "{json}");
                let value = serde_json::to_value(NonFinite(&point)).unwrap();
                assert_eq!(serde_json::from_value::<Tagged>(value).unwrap(), point);
            }
        }
        let Tagged::Point { x, .. } =
            serde_json::from_str(r#"{"kind":"Point","x":"NaN","y":"NaN"}"#).unwrap();
        assert!(x.is_nan());
        let error = serde_json::from_str::<Tagged>(r#"{"kind":"Point","x":"inf"}"#).unwrap_err();
        assert!(error.to_string().contains(r#""Infinity""#), "{error}");
        // Integers read as floats, as serde's own f64 does.
        let Tagged::Point { x, y } =
            serde_json::from_str(r#"{"kind":"Point","x":3,"y":-2}"#).unwrap();
        assert_eq!((x, y), (3.0, Some(-2.0)));
    }
}
