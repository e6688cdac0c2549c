//! Reading Arrow columns as numbers or as categories.
//!
//! Statistics see two kinds of column. *Numeric* columns (floats and integers)
//! are read as `f64`; `Float64` is borrowed as it is, other types are widened
//! chunk by chunk into a reused buffer so no batch allocates. *Categorical*
//! columns (strings, dictionaries of strings, booleans, and integers the user
//! declares categorical) are read as category names.

use std::fmt::Write as _;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowDictionaryKeyType, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type,
    UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowPrimitiveType, DictionaryArray, PrimitiveArray};
use arrow_buffer::ArrowNativeType;
use arrow_buffer::BooleanBuffer;
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a column is compared: by its numeric distribution or by category shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnKind {
    /// Floats and integers, binned on the reference quantiles.
    Numeric,
    /// Strings, booleans and declared-categorical integers, one bin per category.
    Categorical,
}

impl ColumnKind {
    /// The kind a column of `data_type` gets unless the user says otherwise.
    ///
    /// # Errors
    /// [`Error::UnsupportedType`] for types that are neither numbers nor categories.
    pub fn infer(column: &str, data_type: &DataType) -> Result<Self> {
        if is_numeric(data_type) {
            Ok(Self::Numeric)
        } else if is_categorical(data_type) {
            Ok(Self::Categorical)
        } else {
            Err(unsupported(column, data_type))
        }
    }

    /// Its name in messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Numeric => "numeric",
            Self::Categorical => "categorical",
        }
    }
}

/// Whether `data_type` is one of the number types read as `f64`.
pub fn is_numeric(data_type: &DataType) -> bool {
    use DataType::*;
    matches!(
        data_type,
        Float32 | Float64 | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
    )
}

/// Whether `data_type` is an integer type (Evidently's Sturges rule treats
/// integer columns differently).
pub fn is_integer(data_type: &DataType) -> bool {
    is_numeric(data_type) && !matches!(data_type, DataType::Float32 | DataType::Float64)
}

/// Whether `data_type` can be read as categories.
pub fn is_categorical(data_type: &DataType) -> bool {
    match data_type {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Boolean => true,
        DataType::Dictionary(key, value) => {
            key.is_dictionary_key_type()
                && matches!(**value, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        }
        other => is_integer(other),
    }
}

fn unsupported(column: &str, data_type: &DataType) -> Error {
    Error::UnsupportedType {
        column: column.to_owned(),
        data_type: data_type.clone(),
        reason: "expected a float or integer (numeric), or a string, dictionary of strings, \
                 boolean or integer (categorical)",
    }
}

/// Values per widened chunk: small enough to stay in L1/L2, large enough for
/// the binning kernel's blocks.
const CHUNK: usize = 4096;

/// Calls `f` with the column's values as `f64` slices, each with its validity
/// bitmap (`None` when the slice has no nulls). `Float64` is passed through
/// without copying; other number types are widened into `scratch`.
///
/// Integers beyond 2^53 lose precision when widened, as they do in numpy.
///
/// # Errors
/// [`Error::UnsupportedType`] if the array is not numeric.
pub fn for_each_f64_chunk(
    column: &str,
    array: &dyn Array,
    scratch: &mut Vec<f64>,
    mut f: impl FnMut(&[f64], Option<&BooleanBuffer>),
) -> Result<()> {
    fn widen<T: ArrowPrimitiveType>(
        array: &PrimitiveArray<T>,
        scratch: &mut Vec<f64>,
        f: &mut impl FnMut(&[f64], Option<&BooleanBuffer>),
        to_f64: impl Fn(T::Native) -> f64,
    ) {
        let values = array.values();
        let mut start = 0;
        while start < values.len() {
            let len = CHUNK.min(values.len() - start);
            scratch.clear();
            scratch.extend(values[start..start + len].iter().map(|&v| to_f64(v)));
            let validity =
                array.nulls().filter(|n| n.null_count() > 0).map(|n| n.inner().slice(start, len));
            f(scratch, validity.as_ref());
            start += len;
        }
    }
    match array.data_type() {
        DataType::Float64 => {
            let array = array.as_primitive::<Float64Type>();
            f(array.values(), array.nulls().filter(|n| n.null_count() > 0).map(|n| n.inner()));
        }
        DataType::Float32 => widen(array.as_primitive::<Float32Type>(), scratch, &mut f, f64::from),
        DataType::Int8 => widen(array.as_primitive::<Int8Type>(), scratch, &mut f, f64::from),
        DataType::Int16 => widen(array.as_primitive::<Int16Type>(), scratch, &mut f, f64::from),
        DataType::Int32 => widen(array.as_primitive::<Int32Type>(), scratch, &mut f, f64::from),
        DataType::Int64 => widen(array.as_primitive::<Int64Type>(), scratch, &mut f, |v| v as f64),
        DataType::UInt8 => widen(array.as_primitive::<UInt8Type>(), scratch, &mut f, f64::from),
        DataType::UInt16 => widen(array.as_primitive::<UInt16Type>(), scratch, &mut f, f64::from),
        DataType::UInt32 => widen(array.as_primitive::<UInt32Type>(), scratch, &mut f, f64::from),
        DataType::UInt64 => {
            widen(array.as_primitive::<UInt64Type>(), scratch, &mut f, |v| v as f64)
        }
        other => return Err(unsupported(column, other)),
    }
    Ok(())
}

/// Appends the finite, valid values of a chunk from [`for_each_f64_chunk`] to
/// `values` (nulls, NaN and ±inf are left out).
///
/// Every value is written and the end advances only past the kept ones, so
/// the loop has no branch to mispredict on data with scattered NaN or nulls.
pub fn extend_finite(values: &mut Vec<f64>, chunk: &[f64], validity: Option<&BooleanBuffer>) {
    let start = values.len();
    values.resize(start + chunk.len(), 0.0);
    let out = &mut values[start..];
    let mut kept = 0;
    match validity {
        None => {
            for &x in chunk {
                out[kept] = x;
                kept += usize::from(x.is_finite());
            }
        }
        Some(valid) => {
            for (&x, v) in chunk.iter().zip(valid.iter()) {
                out[kept] = x;
                kept += usize::from(v && x.is_finite());
            }
        }
    }
    values.truncate(start + kept);
}

/// A category as read from a column: borrowed from the array where possible.
pub type Category<'a> = Option<&'a str>;

/// The order of two category names: as text, or, for the integer codes of a
/// column declared categorical (`integer`), as numbers, the order numpy,
/// pandas and scipy give an integer column (`2` before `10`). Bins, reports
/// and the Z-test's first category follow this order.
///
/// With `integer`, names that are not integers (a current file that holds
/// the column as text) come after every integer, in text order, so the order
/// stays total.
///
/// ```
/// use std::cmp::Ordering;
/// use driftgauge_detectors::column::compare_categories;
///
/// assert_eq!(compare_categories("10", "2", false), Ordering::Less);
/// assert_eq!(compare_categories("10", "2", true), Ordering::Greater);
/// assert_eq!(compare_categories("-3", "x", true), Ordering::Less);
/// ```
pub fn compare_categories(a: &str, b: &str, integer: bool) -> std::cmp::Ordering {
    if !integer {
        return a.cmp(b);
    }
    match (integer_code(a), integer_code(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// The value of a category written as an integer code (its decimal text, as
/// [`for_each_category`] writes integers), `None` for any other name.
pub fn integer_code(name: &str) -> Option<i128> {
    // `i128` holds every `i64` and `u64`. Parsing accepts a leading `+` and
    // zeros, which `for_each_category` never writes; such names are text.
    let value: i128 = name.parse().ok()?;
    (value.to_string() == name).then_some(value)
}

/// Calls `visit` once per distinct-valued run of the column: `visit(category,
/// rows)`. Strings and booleans are visited row by row (`rows` = 1);
/// dictionary arrays once per dictionary entry that occurs, with its row count,
/// so a batch with few categories costs one hash lookup per category.
/// Integers are visited as their decimal text.
///
/// # Errors
/// [`Error::UnsupportedType`] if the array cannot be read as categories.
pub fn for_each_category(
    column: &str,
    array: &dyn Array,
    mut visit: impl FnMut(Category<'_>, u64),
) -> Result<()> {
    fn dictionary<K: ArrowDictionaryKeyType>(
        column: &str,
        array: &DictionaryArray<K>,
        visit: &mut impl FnMut(Category<'_>, u64),
    ) -> Result<()> {
        let mut per_key = vec![0u64; array.values().len()];
        let mut nulls = 0u64;
        for key in array.keys().iter() {
            match key.and_then(|k| k.to_usize()) {
                Some(k) => per_key[k] += 1,
                None => nulls += 1,
            }
        }
        if nulls > 0 {
            visit(None, nulls);
        }
        let names = category_names(column, array.values().as_ref())?;
        for (name, rows) in names.iter().zip(per_key).filter(|(_, rows)| *rows > 0) {
            visit(name.as_deref(), rows);
        }
        Ok(())
    }
    fn integers<T: ArrowPrimitiveType>(
        array: &PrimitiveArray<T>,
        visit: &mut impl FnMut(Category<'_>, u64),
    ) where
        T::Native: std::fmt::Display,
    {
        let mut text = String::new();
        for value in array.iter() {
            match value {
                Some(v) => {
                    text.clear();
                    write!(text, "{v}").expect("formatting into a String cannot fail");
                    visit(Some(&text), 1);
                }
                None => visit(None, 1),
            }
        }
    }
    match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().for_each(|v| visit(v, 1)),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(|v| visit(v, 1)),
        DataType::Utf8View => array.as_string_view().iter().for_each(|v| visit(v, 1)),
        DataType::Boolean => array
            .as_boolean()
            .iter()
            .for_each(|v| visit(v.map(|b| if b { "true" } else { "false" }), 1)),
        DataType::Dictionary(key, _) if is_categorical(array.data_type()) => match **key {
            DataType::Int8 => dictionary(column, array.as_dictionary::<Int8Type>(), &mut visit)?,
            DataType::Int16 => dictionary(column, array.as_dictionary::<Int16Type>(), &mut visit)?,
            DataType::Int32 => dictionary(column, array.as_dictionary::<Int32Type>(), &mut visit)?,
            DataType::Int64 => dictionary(column, array.as_dictionary::<Int64Type>(), &mut visit)?,
            DataType::UInt8 => dictionary(column, array.as_dictionary::<UInt8Type>(), &mut visit)?,
            DataType::UInt16 => {
                dictionary(column, array.as_dictionary::<UInt16Type>(), &mut visit)?
            }
            DataType::UInt32 => {
                dictionary(column, array.as_dictionary::<UInt32Type>(), &mut visit)?
            }
            DataType::UInt64 => {
                dictionary(column, array.as_dictionary::<UInt64Type>(), &mut visit)?
            }
            _ => return Err(unsupported(column, array.data_type())),
        },
        DataType::Int8 => integers(array.as_primitive::<Int8Type>(), &mut visit),
        DataType::Int16 => integers(array.as_primitive::<Int16Type>(), &mut visit),
        DataType::Int32 => integers(array.as_primitive::<Int32Type>(), &mut visit),
        DataType::Int64 => integers(array.as_primitive::<Int64Type>(), &mut visit),
        DataType::UInt8 => integers(array.as_primitive::<UInt8Type>(), &mut visit),
        DataType::UInt16 => integers(array.as_primitive::<UInt16Type>(), &mut visit),
        DataType::UInt32 => integers(array.as_primitive::<UInt32Type>(), &mut visit),
        DataType::UInt64 => integers(array.as_primitive::<UInt64Type>(), &mut visit),
        other => return Err(unsupported(column, other)),
    }
    Ok(())
}

/// The categories of a dictionary's values, in order. Not generic, so that
/// reading a dictionary does not instantiate [`for_each_category`] again.
fn category_names(column: &str, values: &dyn Array) -> Result<Vec<Option<String>>> {
    let mut names = Vec::with_capacity(values.len());
    for_each_category(column, values, |name, _| names.push(name.map(str::to_owned)))?;
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        BooleanArray, DictionaryArray, Float32Array, Int64Array, StringArray, types::Int8Type,
    };

    use super::*;

    fn categories(array: &dyn Array) -> Vec<(Option<String>, u64)> {
        let mut seen = Vec::new();
        for_each_category("c", array, |c, n| seen.push((c.map(str::to_owned), n))).unwrap();
        seen
    }

    #[test]
    fn widens_numbers_and_keeps_nulls() {
        let array = Float32Array::from(vec![Some(1.5), None, Some(-2.0)]);
        let mut seen = Vec::new();
        for_each_f64_chunk("x", &array, &mut Vec::new(), |values, validity| {
            seen.extend(
                values
                    .iter()
                    .zip(0..)
                    .map(|(&v, i)| validity.is_none_or(|b| b.value(i)).then_some(v)),
            );
        })
        .unwrap();
        assert_eq!(seen, vec![Some(1.5), None, Some(-2.0)]);
    }

    #[test]
    fn reads_categories_of_every_supported_type() {
        let strings = StringArray::from(vec![Some("a"), None, Some("b")]);
        assert_eq!(
            categories(&strings),
            vec![(Some("a".into()), 1), (None, 1), (Some("b".into()), 1)]
        );
        let booleans = BooleanArray::from(vec![Some(true), Some(false)]);
        assert_eq!(
            categories(&booleans),
            vec![(Some("true".into()), 1), (Some("false".into()), 1)]
        );
        let dictionary: DictionaryArray<Int8Type> =
            vec![Some("x"), Some("y"), None, Some("x")].into_iter().collect();
        assert_eq!(
            categories(&dictionary),
            vec![(None, 1), (Some("x".into()), 2), (Some("y".into()), 1)]
        );
        let integers = Int64Array::from(vec![7, -3]);
        assert_eq!(categories(&integers), vec![(Some("7".into()), 1), (Some("-3".into()), 1)]);
    }

    #[test]
    fn integer_codes_order_as_numbers_and_text_as_text() {
        let mut codes =
            vec!["10", "2", "-7", "100", "18446744073709551615", "-9223372036854775808"];
        codes.sort_by(|a, b| compare_categories(a, b, true));
        assert_eq!(codes, ["-9223372036854775808", "-7", "2", "10", "100", "18446744073709551615"]);
        codes.sort_by(|a, b| compare_categories(a, b, false));
        assert_eq!(codes, ["-7", "-9223372036854775808", "10", "100", "18446744073709551615", "2"]);
        // Names that are not canonical integers sort after the integers, as text.
        let mut mixed = vec!["b", "007", "3", "+4", "a", "-1"];
        mixed.sort_by(|a, b| compare_categories(a, b, true));
        assert_eq!(mixed, ["-1", "3", "+4", "007", "a", "b"]);
    }

    #[test]
    fn rejects_types_that_cannot_be_compared() {
        let list = arrow_array::ListArray::new_null(
            Arc::new(arrow_schema::Field::new("item", DataType::Int32, true)),
            2,
        );
        let error = ColumnKind::infer("tags", list.data_type()).unwrap_err();
        assert!(error.to_string().contains("column `tags`"), "{error}");
        assert!(for_each_category("tags", &list, |_, _| {}).is_err());
    }
}
