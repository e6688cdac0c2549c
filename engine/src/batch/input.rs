//! Reading tables from files: Parquet, CSV and Arrow IPC (file and stream).
//!
//! A Parquet file is opened for its metadata only; each column is decoded
//! when it is asked for, on the rayon task that then profiles or compares
//! it. A `check` thus decodes columns in parallel and holds only the columns
//! in flight, and their memory is reused column after column: on this
//! project's VM, touching fresh memory (page faults, clearing pages) had
//! cost more than a fifth of a `check`'s CPU time when both files were
//! decoded whole first. CSV and Arrow IPC are read whole.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};

/// Rows per decoded batch.
const BATCH_ROWS: usize = 64 * 1024;

/// A file format driftgauge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Apache Parquet (`.parquet`, `.pq`).
    Parquet,
    /// Comma-separated values with a header row (`.csv`); types are inferred.
    Csv,
    /// Arrow IPC file, also known as Feather v2 (`.arrow`, `.feather`, `.ipc`).
    Arrow,
    /// Arrow IPC stream (`.arrows`).
    ArrowStream,
}

impl Format {
    /// The format a file name's extension implies; a compressed CSV
    /// (`.csv.gz`, `.csv.zst`) is CSV.
    pub fn from_path(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match Compression::of(path) {
            Compression::None => extension.parse().ok(),
            _ => (Format::from_path(&path.with_extension(""))? == Self::Csv).then_some(Self::Csv),
        }
    }
}

/// A whole-file compression around a CSV file, from its last extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn of(path: &Path) -> Self {
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("gz" | "gzip") => Self::Gzip,
            Some("zst" | "zstd") => Self::Zstd,
            _ => Self::None,
        }
    }
}

/// How CSV text is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CsvOptions {
    /// The field delimiter; by default sniffed from the header line among
    /// `,`, `;`, tab and `|`.
    pub delimiter: Option<u8>,
    /// Values read as missing; by default [`NA_VALUES`].
    pub na_values: Option<Vec<String>>,
}

/// Values read as missing in CSV by default: what pandas, R and spreadsheets
/// write for a missing value.
pub const NA_VALUES: [&str; 10] =
    ["", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "<NA>"];

impl FromStr for Format {
    type Err = ();

    fn from_str(extension: &str) -> Result<Self, ()> {
        match extension {
            "parquet" | "pq" => Ok(Self::Parquet),
            "csv" => Ok(Self::Csv),
            "arrow" | "feather" | "ipc" => Ok(Self::Arrow),
            "arrows" => Ok(Self::ArrowStream),
            _ => Err(()),
        }
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened.
    #[error("{path}: cannot open")]
    Open {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The format was neither given nor implied by the extension.
    #[error(
        "{path}: cannot tell the format from the extension; use .parquet, .csv, .arrow/.feather or .arrows, or name the format (check: --reference-format, --current-format; fits: --input-format)"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The content is not valid in the expected format.
    #[error("{path}: not a readable {format:?} file: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: Format,
        /// The decoder's message.
        reason: String,
    },
    /// The file holds no rows.
    #[error("{path}: the file has no rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// A column named explicitly holds a type that cannot be monitored.
    #[error("{path}: column `{column}` ({data_type}) cannot be monitored: {reason}")]
    Unmonitorable {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its Arrow type.
        data_type: String,
        /// Why, and what can be done.
        reason: &'static str,
    },
    /// A requested column is not in the file.
    #[error("{path}: column `{column}` not found (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The missing column.
        column: String,
        /// The columns the file has, comma-separated.
        available: String,
    },
}

/// A table read from a file: its schema and its rows.
///
/// Columns are read as they can be monitored: decimals and float16 as
/// `Float64` numbers; times (timestamps, dates, times of day, durations) as
/// `Float64` seconds (since the epoch, midnight or zero), but only when named
/// explicitly. By default ([`Table::column_names`]) times, index columns
/// (pandas' index, a CSV's unnamed leading column) and types that cannot be
/// monitored (structs, lists, binary) are left out and listed in
/// [`Table::skipped`]; naming one of the last kind is an error.
#[derive(Debug, Clone)]
pub struct Table {
    /// Where it came from, for messages.
    pub path: PathBuf,
    /// The schema of every column, as read (before conversions).
    pub schema: SchemaRef,
    rows: usize,
    storage: Storage,
    /// The type each column is read as, in schema order; `None`: never.
    read_types: Vec<Option<DataType>>,
    skipped: Vec<Skipped>,
}

/// A column left out of the default selection, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The column.
    pub column: String,
    /// Its Arrow type, as Arrow writes it (`Timestamp(µs, "UTC")`).
    pub data_type: String,
    /// Why it was left out.
    pub reason: &'static str,
}

/// Why a column is left out by default.
const INDEX: &str = "an index column, not a feature (name it in --columns to compare it)";
const TIME: &str =
    "a time (name it in --columns to compare it as seconds since the epoch, midnight or zero)";
const UNMONITORABLE: &str =
    "nested or binary values cannot be profiled (leave it out, or flatten it into columns)";

/// How a column of a given type is read.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    /// As it is (numbers, strings, booleans, string dictionaries).
    AsIs,
    /// Cast to `Float64` (decimals, float16, numeric dictionaries).
    Number,
    /// As `Float64` seconds, divided by this many units per second (a
    /// negative value: multiplied, for days).
    Seconds(f64),
    /// Not at all.
    Never,
}

fn reading(data_type: &DataType) -> Reading {
    use arrow::datatypes::TimeUnit as Unit;
    use driftgauge_detectors::column::{is_categorical, is_numeric};
    let per_second = |unit: &Unit| match unit {
        Unit::Second => 1.0,
        Unit::Millisecond => 1e3,
        Unit::Microsecond => 1e6,
        Unit::Nanosecond => 1e9,
    };
    match data_type {
        t if is_numeric(t) || is_categorical(t) => Reading::AsIs,
        DataType::Float16 | DataType::Decimal32(..) | DataType::Decimal64(..) => Reading::Number,
        DataType::Decimal128(..) | DataType::Decimal256(..) => Reading::Number,
        DataType::Dictionary(_, value)
            if reading(value) == Reading::Number || is_numeric(value) =>
        {
            Reading::Number
        }
        DataType::Timestamp(unit, _) | DataType::Time32(unit) | DataType::Time64(unit) => {
            Reading::Seconds(per_second(unit))
        }
        DataType::Duration(unit) => Reading::Seconds(per_second(unit)),
        DataType::Date32 => Reading::Seconds(-86_400.0),
        DataType::Date64 => Reading::Seconds(1e3),
        _ => Reading::Never,
    }
}

/// The type a column is read as (see [`reading`]).
fn read_type(data_type: &DataType) -> Option<DataType> {
    match reading(data_type) {
        Reading::AsIs => Some(data_type.clone()),
        Reading::Number | Reading::Seconds(_) => Some(DataType::Float64),
        Reading::Never => None,
    }
}

/// `array` read as [`reading`] says.
fn convert(array: ArrayRef) -> Result<ArrayRef, arrow::error::ArrowError> {
    use arrow::array::AsArray;
    use arrow::datatypes::{Float64Type, Int64Type};
    match reading(array.data_type()) {
        Reading::AsIs | Reading::Never => Ok(array),
        Reading::Number => arrow::compute::cast(&array, &DataType::Float64),
        Reading::Seconds(scale) => {
            let raw = arrow::compute::cast(&array, &DataType::Int64)?;
            let raw = raw.as_primitive::<Int64Type>();
            let seconds = if scale < 0.0 {
                raw.unary::<_, Float64Type>(|v| v as f64 * -scale)
            } else {
                raw.unary::<_, Float64Type>(|v| v as f64 / scale)
            };
            debug_assert_eq!(seconds.len(), array.len());
            Ok(Arc::new(seconds))
        }
    }
}

/// The columns pandas wrote as its index: `__index_level_N__`, or those the
/// `pandas` schema metadata lists in `index_columns` (a range index is
/// stored in the metadata only).
fn pandas_index_columns(schema: &SchemaRef) -> Vec<String> {
    let mut index: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.name())
        .filter(|name| name.starts_with("__index_level_") && name.ends_with("__"))
        .cloned()
        .collect();
    let listed = schema
        .metadata()
        .get("pandas")
        .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
        .and_then(|meta| meta.get("index_columns").cloned());
    if let Some(serde_json::Value::Array(columns)) = listed {
        for column in columns {
            if let serde_json::Value::String(name) = column {
                if schema.field_with_name(&name).is_ok() && !index.contains(&name) {
                    index.push(name);
                }
            }
        }
    }
    index
}

#[derive(Debug, Clone)]
enum Storage {
    /// Decoded batches (CSV, Arrow IPC).
    Batches(Vec<RecordBatch>),
    /// A Parquet file's metadata; columns are decoded on demand (module docs).
    Parquet(ArrowReaderMetadata),
}

impl Table {
    /// Reads `path` as `format`, or as its extension implies.
    ///
    /// # Errors
    /// An [`InputError`] naming the file and the reason; an empty file is an error.
    pub fn read(path: &Path, format: Option<Format>) -> Result<Self, InputError> {
        Self::read_with(path, format, &CsvOptions::default())
    }

    /// [`Table::read`], with `csv` for CSV files.
    ///
    /// # Errors
    /// As [`Table::read`]; for CSV also a numeric column with a stray text
    /// value, naming its first row and value.
    pub fn read_with(
        path: &Path,
        format: Option<Format>,
        csv: &CsvOptions,
    ) -> Result<Self, InputError> {
        let format = format
            .or_else(|| Format::from_path(path))
            .ok_or_else(|| InputError::UnknownFormat { path: path.to_owned() })?;
        let file = File::open(path)
            .map_err(|source| InputError::Open { path: path.to_owned(), source })?;
        let decode = |reason: String| InputError::Decode { path: path.to_owned(), format, reason };
        let (schema, storage) = match format {
            Format::Parquet => {
                let metadata = ArrowReaderMetadata::load(&file, ArrowReaderOptions::default())
                    .map_err(|e| decode(e.to_string()))?;
                (Arc::clone(metadata.schema()), Storage::Parquet(metadata))
            }
            Format::Csv => {
                let text = decompress(file, Compression::of(path))
                    .map_err(|source| InputError::Open { path: path.to_owned(), source })?;
                let (schema, batches) = read_csv(&text, csv).map_err(decode)?;
                (schema, Storage::Batches(batches))
            }
            Format::Arrow => {
                let mut file = BufReader::new(file);
                if is_feather_v1(&mut file) {
                    return Err(decode(FEATHER_V1.to_owned()));
                }
                let reader = arrow::ipc::reader::FileReader::try_new(file, None)
                    .map_err(|e| decode(e.to_string()))?;
                let schema = reader.schema();
                let batches =
                    reader.collect::<Result<Vec<_>, _>>().map_err(|e| decode(e.to_string()))?;
                (schema, Storage::Batches(batches))
            }
            Format::ArrowStream => {
                let reader = arrow::ipc::reader::StreamReader::try_new(BufReader::new(file), None)
                    .map_err(|e| decode(e.to_string()))?;
                let schema = reader.schema();
                let batches =
                    reader.collect::<Result<Vec<_>, _>>().map_err(|e| decode(e.to_string()))?;
                (schema, Storage::Batches(batches))
            }
        };
        let rows = match &storage {
            Storage::Batches(batches) => batches.iter().map(RecordBatch::num_rows).sum(),
            Storage::Parquet(metadata) => {
                usize::try_from(metadata.metadata().file_metadata().num_rows()).unwrap_or(0)
            }
        };
        if rows == 0 {
            return Err(InputError::Empty { path: path.to_owned() });
        }
        let mut index = pandas_index_columns(&schema);
        // pandas' to_csv writes its index as a leading column with an empty
        // header, which pandas reads back as `Unnamed: 0`.
        if format == Format::Csv {
            if let Some(first) = schema.fields().first() {
                if first.name().is_empty() || first.name() == "Unnamed: 0" {
                    index.push(first.name().clone());
                }
            }
        }
        Ok(Self::classify(path.to_owned(), schema, rows, storage, &index))
    }

    /// A table of batches already in memory (`path` is used in messages).
    pub fn from_batches(path: PathBuf, schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        let index = pandas_index_columns(&schema);
        Self::classify(path, schema, rows, Storage::Batches(batches), &index)
    }

    fn classify(
        path: PathBuf,
        schema: SchemaRef,
        rows: usize,
        storage: Storage,
        index: &[String],
    ) -> Self {
        let skipped = schema
            .fields()
            .iter()
            .filter_map(|field| {
                let reason = if index.contains(field.name()) {
                    INDEX
                } else {
                    match reading(field.data_type()) {
                        Reading::Seconds(_) => TIME,
                        Reading::Never => UNMONITORABLE,
                        Reading::AsIs | Reading::Number => return None,
                    }
                };
                Some(Skipped {
                    column: field.name().clone(),
                    data_type: field.data_type().to_string(),
                    reason,
                })
            })
            .collect();
        let read_types = schema.fields().iter().map(|f| read_type(f.data_type())).collect();
        Self { path, schema, rows, storage, read_types, skipped }
    }

    /// The columns left out of [`Table::column_names`], with their types and why.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Total rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The Arrow type `column` is read as (see [`Table`]).
    ///
    /// # Errors
    /// [`InputError::MissingColumn`] if the table has no such column,
    /// [`InputError::Unmonitorable`] if its type cannot be monitored.
    pub fn data_type(&self, column: &str) -> Result<&DataType, InputError> {
        let index = self.schema.index_of(column).map_err(|_| self.missing(column))?;
        self.read_types[index].as_ref().ok_or_else(|| InputError::Unmonitorable {
            path: self.path.clone(),
            column: column.to_owned(),
            data_type: self.schema.field(index).data_type().to_string(),
            reason: UNMONITORABLE,
        })
    }

    /// The batches of `column` (decoded now, for a Parquet file).
    ///
    /// # Errors
    /// [`InputError::MissingColumn`] if the table has no such column; for a
    /// Parquet file, [`InputError::Open`] or [`InputError::Decode`] (naming
    /// the column) if it cannot be read.
    pub fn column(&self, column: &str) -> Result<Vec<ArrayRef>, InputError> {
        let index = self.schema.index_of(column).map_err(|_| self.missing(column))?;
        self.data_type(column)?;
        let (arrays, format) = match &self.storage {
            Storage::Batches(batches) => {
                let arrays = batches.iter().map(|b| Arc::clone(b.column(index))).collect();
                (arrays, Format::Arrow)
            }
            Storage::Parquet(metadata) => {
                let file = File::open(&self.path)
                    .map_err(|source| InputError::Open { path: self.path.clone(), source })?;
                let arrays =
                    read_parquet_column(file, metadata, index).map_err(|e| InputError::Decode {
                        path: self.path.clone(),
                        format: Format::Parquet,
                        reason: format!("column `{column}`: {e}"),
                    })?;
                (arrays, Format::Parquet)
            }
        };
        arrays.into_iter().map(convert).collect::<Result<_, _>>().map_err(|e| InputError::Decode {
            path: self.path.clone(),
            format,
            reason: format!("column `{column}`: {e}"),
        })
    }

    /// The names of the columns compared by default, in schema order: all
    /// but those in [`Table::skipped`].
    pub fn column_names(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|name| !self.skipped.iter().any(|s| s.column == *name))
            .collect()
    }

    fn missing(&self, column: &str) -> InputError {
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        InputError::MissingColumn {
            path: self.path.clone(),
            column: column.to_owned(),
            available: names.join(", "),
        }
    }
}

/// What to say of a Feather v1 file, which predates the Arrow IPC format.
const FEATHER_V1: &str = "this is a Feather v1 file, an old format driftgauge does not read; \
     convert it to Feather v2 (Arrow IPC) with pyarrow: \
     `import pyarrow.feather as f; f.write_feather(f.read_table('old.feather'), 'new.feather')`";

/// Whether `file` starts with Feather v1's magic `FEA1` (Feather v2 is an
/// Arrow IPC file, which starts with `ARROW1`). Leaves the file at its start.
fn is_feather_v1(file: &mut BufReader<File>) -> bool {
    use std::io::BufRead;
    file.fill_buf().is_ok_and(|head| head.starts_with(b"FEA1"))
}

fn read_parquet_column(
    file: File,
    metadata: &ArrowReaderMetadata,
    index: usize,
) -> parquet::errors::Result<Vec<ArrayRef>> {
    let projection = ProjectionMask::roots(metadata.parquet_schema(), [index]);
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata.clone())
        .with_projection(projection)
        .with_batch_size(BATCH_ROWS)
        .build()?;
    reader.map(|batch| Ok(Arc::clone(batch?.column(0)))).collect()
}

/// The whole of `file`, decompressed.
fn decompress(file: File, compression: Compression) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut text = Vec::new();
    match compression {
        Compression::None => BufReader::new(file).read_to_end(&mut text)?,
        Compression::Gzip => {
            flate2::read::MultiGzDecoder::new(BufReader::new(file)).read_to_end(&mut text)?
        }
        Compression::Zstd => zstd::stream::read::Decoder::new(file)?.read_to_end(&mut text)?,
    };
    Ok(text)
}

/// The delimiter of the header line: the most frequent of `,`, `;`, tab
/// and `|` outside quotes (`,` when none occurs).
fn sniff_delimiter(text: &[u8]) -> u8 {
    let header = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &byte in header {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b';' if !quoted => counts[1] += 1,
            b'\t' if !quoted => counts[2] += 1,
            b'|' if !quoted => counts[3] += 1,
            _ => {}
        }
    }
    let candidates = [b',', b';', b'\t', b'|'];
    let best = (0..4).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { candidates[best] }
}

fn read_csv(text: &[u8], options: &CsvOptions) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let delimiter = options.delimiter.unwrap_or_else(|| sniff_delimiter(text));
    let na: Vec<String> = match &options.na_values {
        Some(values) => values.clone(),
        None => NA_VALUES.iter().map(|v| (*v).to_owned()).collect(),
    };
    let alternatives: Vec<String> = na.iter().map(|v| regex::escape(v)).collect();
    let null = regex::Regex::new(&format!("^(?:{})$", alternatives.join("|")))
        .map_err(|e| format!("--na-values: {e}"))?;
    let format = arrow::csv::reader::Format::default()
        .with_header(true)
        .with_delimiter(delimiter)
        .with_null_regex(null.clone());
    // Types are inferred from the whole file, so a float that first appears
    // late in a column does not turn it into a string.
    let (schema, _) =
        format.infer_schema(std::io::Cursor::new(text), None).map_err(|e| e.to_string())?;
    let reader = arrow::csv::ReaderBuilder::new(Arc::new(schema))
        .with_format(format)
        .with_batch_size(BATCH_ROWS)
        .build(std::io::Cursor::new(text))
        .map_err(|e| e.to_string())?;
    let schema = reader.schema();
    let batches = reader.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())?;
    stray_text(&schema, &batches)?;
    Ok((schema, batches))
}

/// A text column whose values are numbers but for a few is most likely a
/// numeric column with a stray value (`12.5`, `n.a.`, `7`), which would
/// otherwise be compared as categories without a word. Such a column is an
/// error naming the first offending row (1-based, the header is row 0) and
/// value.
fn stray_text(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<(), String> {
    use arrow::array::AsArray;
    for (index, field) in schema.fields().iter().enumerate() {
        if field.data_type() != &DataType::Utf8 {
            continue;
        }
        let (mut numbers, mut texts, mut first) = (0usize, 0usize, None);
        let mut row = 0usize;
        for batch in batches {
            let column = batch.column(index).as_string::<i32>();
            for value in column.iter() {
                row += 1;
                let Some(value) = value else { continue };
                if value.trim().parse::<f64>().is_ok() {
                    numbers += 1;
                } else {
                    texts += 1;
                    if first.is_none() {
                        first = Some((row, value.to_owned()));
                    }
                }
            }
        }
        // At least 9 in 10 values are numbers, and at least 10 of them.
        if let Some((row, value)) = first {
            if numbers >= 10 && numbers >= 9 * texts {
                return Err(format!(
                    "column `{}` holds numbers, but row {row} holds `{value}` ({texts} value(s) \
                     are not numbers); fix the file, or read such values as missing with \
                     --na-values",
                    field.name()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn formats_follow_extensions() {
        assert_eq!(Format::from_path(Path::new("a/b.PARQUET")), Some(Format::Parquet));
        assert_eq!(Format::from_path(Path::new("x.feather")), Some(Format::Arrow));
        assert_eq!(Format::from_path(Path::new("x.arrows")), Some(Format::ArrowStream));
        assert_eq!(Format::from_path(Path::new("x.txt")), None);
    }

    fn floats(table: &Table, column: &str) -> Vec<Option<f64>> {
        use arrow::array::AsArray;
        assert_eq!(table.data_type(column).unwrap(), &DataType::Float64, "{column}");
        table
            .column(column)
            .unwrap()
            .iter()
            .flat_map(|a| {
                a.as_primitive::<arrow::datatypes::Float64Type>().iter().collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn csv_as_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        // Semicolons and decimal text, missing-value tokens of every kind.
        let text = "x;y;c\n1.5;1;a\nNA;2;b\n;3;N/A\nnull;4;c\nNone;5;<NA>\nNaN;6;d\n2.5;n/a;e\n";
        let plain = dir.path().join("t.csv");
        std::fs::write(&plain, text).unwrap();
        let table = Table::read(&plain, None).unwrap();
        let nulls = [None, None, None, None, None];
        assert_eq!(floats(&table, "x"), [&[Some(1.5)][..], &nulls, &[Some(2.5)]].concat());
        assert_eq!(table.data_type("y").unwrap(), &DataType::Int64);
        assert_eq!(table.column("c").unwrap()[0].null_count(), 2);

        // Tabs are sniffed; --delimiter and --na-values override.
        let tabs = dir.path().join("tabs.csv");
        std::fs::write(&tabs, "x\ty\n1\tNA\n2\t-\n").unwrap();
        let table = Table::read(&tabs, None).unwrap();
        assert_eq!(table.column_names(), ["x", "y"]);
        let options = CsvOptions { delimiter: Some(b'\t'), na_values: Some(vec!["-".into()]) };
        let table = Table::read_with(&tabs, None, &options).unwrap();
        let y = table.column("y").unwrap();
        assert_eq!((y[0].data_type(), y[0].null_count()), (&DataType::Utf8, 1), "NA is text now");

        // Compressed files read as the plain one.
        let gz = dir.path().join("t.csv.gz");
        let mut encoder =
            flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        let zst = dir.path().join("t.csv.zst");
        std::fs::write(&zst, zstd::encode_all(text.as_bytes(), 1).unwrap()).unwrap();
        for path in [&gz, &zst] {
            assert_eq!(Format::from_path(path), Some(Format::Csv), "{}", path.display());
            let table = Table::read(path, None).unwrap();
            assert_eq!(floats(&table, "x").len(), 7, "{}", path.display());
        }
    }

    #[test]
    fn a_stray_text_value_in_a_numeric_csv_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stray.csv");
        let mut text = String::from("amount,city\n");
        for i in 0..30 {
            let amount = if i == 11 { "12,5".to_owned() } else { format!("{i}.5") };
            text.push_str(&format!("\"{amount}\",x{}\n", i % 3));
        }
        std::fs::write(&path, text).unwrap();
        let error = Table::read(&path, None).unwrap_err().to_string();
        assert!(error.contains("stray.csv") && error.contains("column `amount`"), "{error}");
        assert!(error.contains("row 12 holds `12,5`"), "{error}");
    }

    #[test]
    fn feather_v1_is_named_with_how_to_convert_it() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.feather");
        // Feather v1 starts and ends with FEA1, with flatbuffers metadata between.
        std::fs::write(&old, b"FEA1\0\0\0\0some column data and metadataFEA1").unwrap();
        let error = Table::read(&old, None).unwrap_err().to_string();
        assert!(error.contains("old.feather") && error.contains("Feather v1"), "{error}");
        assert!(error.contains("write_feather"), "{error}");
    }

    #[test]
    fn compressed_arrow_ipc_files_read() {
        use arrow::array::Float64Array;
        use arrow::ipc::CompressionType;
        use arrow::ipc::writer::{FileWriter, IpcWriteOptions};
        let dir = tempfile::tempdir().unwrap();
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "x",
            DataType::Float64,
            true,
        )]));
        let values: ArrayRef = Arc::new(Float64Array::from_iter_values((0..1000).map(f64::from)));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![values]).unwrap();
        for (name, codec) in [("lz4", CompressionType::LZ4_FRAME), ("zstd", CompressionType::ZSTD)]
        {
            let path = dir.path().join(format!("{name}.arrow"));
            let options = IpcWriteOptions::default().try_with_compression(Some(codec)).unwrap();
            let mut writer =
                FileWriter::try_new_with_options(File::create(&path).unwrap(), &schema, options)
                    .unwrap();
            writer.write(&batch).unwrap();
            writer.finish().unwrap();
            let table = Table::read(&path, None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(table.rows(), 1000, "{name}");
        }
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.csv");
        std::fs::File::create(&empty).unwrap().write_all(b"a,b\n").unwrap();
        let error = Table::read(&empty, None).unwrap_err().to_string();
        assert!(error.contains("empty.csv") && error.contains("no rows"), "{error}");

        let garbage = dir.path().join("garbage.parquet");
        std::fs::write(&garbage, b"not parquet").unwrap();
        let error = Table::read(&garbage, None).unwrap_err().to_string();
        assert!(error.contains("garbage.parquet") && error.contains("Parquet"), "{error}");

        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "x,y\n1,a\n2.5,b\n").unwrap();
        let table = Table::read(&csv, None).unwrap();
        assert_eq!(table.data_type("x").unwrap(), &DataType::Float64);
        let error = table.column("z").unwrap_err().to_string();
        assert!(error.contains("column `z` not found (columns: x, y)"), "{error}");
    }
}
