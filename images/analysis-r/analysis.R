# Summarise daily temperatures: one row per weather station, one figure.
# The R twin of images/analysis-python/analysis.py, in base R only.
#
#   Rscript analysis.R [DATA_FOLDER [OUTPUT_FOLDER]]     (defaults: /data /out)
#
# Reads every CSV file in DATA_FOLDER (columns date, station, temperature_c)
# and writes OUTPUT_FOLDER/summary.csv and OUTPUT_FOLDER/figure.png, printing
# one line per file written. A problem is one line on stderr and exit status 1
# (2 for a wrong command line).

columns <- c("date", "station", "temperature_c")

fail <- function(message, status = 1) {
  message("analysis: ", message)
  quit(save = "no", status = status)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) > 2 || any(startsWith(args, "-"))) {
  fail("usage: analysis.R [DATA_FOLDER [OUTPUT_FOLDER]] (defaults: /data /out)", 2)
}
data_dir <- if (length(args) >= 1) args[[1]] else "/data"
out_dir <- if (length(args) >= 2) args[[2]] else "/out"

# --8<-- [start:read]
if (!dir.exists(data_dir)) {
  fail(sprintf('no folder %s: mount your data there (-v "$PWD/data:%s:ro")', data_dir, data_dir))
}
files <- sort(list.files(data_dir, pattern = "\\.csv$", full.names = TRUE))
if (length(files) == 0) {
  fail(sprintf('no CSV file in %s: mount a folder of CSV files there (-v "$PWD/data:%s:ro")',
               data_dir, data_dir))
}
# --8<-- [end:read]

dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)
probe <- tempfile(tmpdir = out_dir)
if (!suppressWarnings(file.create(probe))) {
  fail(sprintf('cannot write to %s: mount a folder you own there (-v "$PWD/out:%s" --user "$(id -u):$(id -g)")',
               out_dir, out_dir))
}
unlink(probe)

read_one <- function(path) {
  frame <- tryCatch(read.csv(path, stringsAsFactors = FALSE),
                    error = function(e) fail(sprintf("cannot read %s: %s", path, conditionMessage(e))))
  missing <- setdiff(columns, names(frame))
  if (length(missing) > 0) {
    fail(sprintf("%s has no column %s (it needs %s)", path, paste(missing, collapse = ", "),
                 paste(columns, collapse = ", ")))
  }
  frame$date <- as.Date(frame$date, optional = TRUE)
  frame$temperature_c <- suppressWarnings(as.numeric(frame$temperature_c))
  if (anyNA(frame$date) || anyNA(frame$temperature_c)) {
    fail(sprintf("%s: some dates or temperatures are not dates or numbers", path))
  }
  frame[columns]
}
data <- do.call(rbind, lapply(files, read_one))

# Write beside the target, then rename: an interrupted run leaves no half file.
write_atomically <- function(target, write) {
  tmp <- tempfile(pattern = paste0(".", basename(target), "."), tmpdir = out_dir)
  on.exit(unlink(tmp))
  write(tmp)
  Sys.chmod(tmp, "644")
  file.rename(tmp, target)
  cat("wrote ", target, "\n", sep = "")
}

# --8<-- [start:analysis]
# One row per station: days measured, mean, coldest and warmest day.
by_station <- split(data$temperature_c, data$station)
summary <- data.frame(
  station = names(by_station),
  days = vapply(by_station, length, integer(1)),
  mean_c = round(vapply(by_station, mean, numeric(1)), 1),
  min_c = vapply(by_station, min, numeric(1)),
  max_c = vapply(by_station, max, numeric(1))
)
write_atomically(file.path(out_dir, "summary.csv"), function(path) {
  write.csv(summary, path, row.names = FALSE, quote = FALSE)
})

# Monthly means per station, drawn as lines into a PNG file.
data$month <- as.Date(format(data$date, "%Y-%m-01"))
monthly <- tapply(data$temperature_c, list(data$month, data$station), mean)
write_atomically(file.path(out_dir, "figure.png"), function(path) {
  type <- if (capabilities("cairo")) "cairo" else getOption("bitmapType")
  png(path, width = 700, height = 400, type = type)
  months <- as.Date(rownames(monthly))
  matplot(months, monthly, type = "o", pch = 16, lty = 1, xaxt = "n",
          xlab = "month", ylab = "mean temperature (°C)",
          main = "Monthly mean temperature by station")
  axis.Date(1, months, format = "%b")
  legend("topleft", legend = colnames(monthly), col = seq_len(ncol(monthly)),
         lty = 1, pch = 16, title = "station")
  invisible(dev.off())
})
# --8<-- [end:analysis]
