use std::fs::OpenOptions;
use std::io::{ErrorKind, Write as _};
use std::path::PathBuf;

use super::{err, exit, out};

/// Writes a starter plan for one recording mode, commented field by field.
///
/// The plan validates as written; its secrets (the RTC token, the storage
/// keys) come from the environment. Without --output it is printed.
///
/// Example: recplan init --mode individual --name classroom --output classroom.yaml
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording mode the plan is for.
    #[arg(long, value_enum, default_value_t = Mode::Composite)]
    mode: Mode,
    /// The plan's name ([a-z0-9-]); default the file's name.
    #[arg(long, value_parser = parse_name)]
    name: Option<String>,
    /// Write the plan to this file instead of printing it.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Overwrite --output if it exists.
    #[arg(long, requires = "output")]
    force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// One file set per user stream.
    Individual,
    /// All streams mixed into one layout.
    Composite,
    /// A web page rendered and recorded.
    Web,
}

/// The rule `validate` holds names to, checked here so that a bad name is
/// refused before a file is written.
fn parse_name(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{text}` is not a plan name: use lowercase letters, digits and `-`, up to 64"
        ))
    }
}

pub fn run(args: &Args) -> u8 {
    let plan = starter(args.mode, args.name.as_deref());
    let Some(path) = &args.output else {
        return match out(format_args!("{plan}")) {
            Ok(()) => exit::OK,
            Err(stop) => stop.exit_code(exit::OK),
        };
    };
    // `create_new` refuses an existing file in the same call that creates
    // it, so nothing that appears in between is overwritten.
    let opened = if args.force {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    } else {
        OpenOptions::new().write(true).create_new(true).open(path)
    };
    let written = opened.and_then(|mut file| file.write_all(plan.as_bytes()));
    match written {
        Ok(()) => match out(format_args!(
            "wrote {}; check it with `recplan validate {}`\n",
            path.display(),
            path.display()
        )) {
            Ok(()) => exit::OK,
            Err(stop) => stop.exit_code(exit::OK),
        },
        Err(error) if error.kind() == ErrorKind::AlreadyExists => {
            err(format_args!(
                "error: {} exists; pass --force to overwrite it\n",
                path.display()
            ));
            exit::FAILED
        }
        Err(error) => {
            err(format_args!(
                "error: cannot write {}: {error}\n",
                path.display()
            ));
            exit::FAILED
        }
    }
}

/// The starter plan's text.
fn starter(mode: Mode, name: Option<&str>) -> String {
    let name_line = match name {
        Some(name) => format!("name: {name}"),
        None => {
            "# name: my-plan                  # default: the file's name without .yaml".to_owned()
        }
    };
    let body = match mode {
        Mode::Individual => INDIVIDUAL,
        Mode::Composite => COMPOSITE,
        Mode::Web => WEB,
    };
    format!("{HEADER}{name_line}\n{body}")
}

const HEADER: &str = r"# yaml-language-server: $schema=./recplan.schema.json
# The line above lets editors check this plan as you type:
# `recplan schema > recplan.schema.json` writes the schema beside it.
#
# Next: `recplan validate FILE` checks it, `recplan render FILE` shows the
# exact requests it would send, `recplan next FILE -n 5` its next starts.
# Blocks sent to Agora (acquire, start, steps, stop) use Agora's own field
# names, so its Cloud Recording reference applies as written.
";

const COMPOSITE: &str = r#"mode: composite                    # every stream mixed into one layout
# app_id: "{{env.AGORA_APP_ID}}"   # default: $AGORA_APP_ID
vars:                              # free values for templates: {{vars.team}}
  team: platform
schedule:                          # without one, the plan runs only with `run --now`
  cron: "0 9 * * MON-FRI"          # crontab: minute hour day month weekday
  timezone: UTC                    # IANA name, e.g. Europe/Berlin
  duration: 30m                    # each occurrence's length: 45s, 30m, 1h30m
  starting_deadline: 5m            # how late an occurrence may still start
  # skip_dates: [2026-12-24, 2026-12-25]
on_failure: restart                # a recording that dies early: restart | stop | ignore
channels:                          # one recording per channel per occurrence
  - cname: "meeting-{{vars.team}}"
    uid: "527841"                  # the recorder's own uid, used by no one else
    backup_uid: "527842"           # the uid a restarted recording joins with
acquire:
  resourceExpiredHour: 24
start:
  token: "{{env.AGORA_RTC_TOKEN}}" # an RTC token for the recorder's uid
  storageConfig:
    vendor: aws_s3
    region: us-east-1
    bucket: my-recordings
    accessKey: "{{env.S3_ACCESS_KEY}}"
    secretKey: "{{env.S3_SECRET_KEY}}"
    fileNamePrefix: ["recordings", "{{occurrence.date}}"]
  recordingConfig:
    channelType: 0                 # 0 communication, 1 live broadcast: as the app's SDK
    streamTypes: 2                 # 0 audio, 1 video, 2 both
    maxIdleTime: 300               # seconds with nobody in the channel before Agora stops
    transcodingConfig:
      width: 1280
      height: 720
      fps: 15
      bitrate: 1500
      mixedVideoLayout: 1          # 0 floating, 1 best fit, 2 vertical, 3 custom
  recordingFileConfig:
    avFileType: [hls, mp4]
steps:                             # calls at offsets from the occurrence's start
  - at: 10m
    updateLayout:                  # fields left out keep the layout in force
      mixedVideoLayout: 2
      maxResolutionUid: "1001"
"#;

const INDIVIDUAL: &str = r##"mode: individual                   # one file set per user stream
# app_id: "{{env.AGORA_APP_ID}}"   # default: $AGORA_APP_ID
vars:                              # free values for templates: {{vars.room}}
  room: room-101
schedule:                          # without one, the plan runs only with `run --now`
  cron: "30 8 * * MON-FRI"         # crontab: minute hour day month weekday
  timezone: UTC                    # IANA name, e.g. America/New_York
  duration: 1h                     # each occurrence's length: 45s, 30m, 1h30m
  starting_deadline: 5m            # how late an occurrence may still start
on_failure: restart                # a recording that dies early: restart | stop | ignore
channels:                          # one recording per channel per occurrence
  - cname: "{{vars.room}}"
    uid: "900101"                  # the recorder's own uid, used by no one else
    backup_uid: "910101"           # the uid a restarted recording joins with
start:
  token: "{{env.AGORA_RTC_TOKEN}}" # an RTC token for the recorder's uid
  storageConfig:
    vendor: aws_s3
    region: us-east-1
    bucket: my-recordings
    accessKey: "{{env.S3_ACCESS_KEY}}"
    secretKey: "{{env.S3_SECRET_KEY}}"
    fileNamePrefix: ["recordings", "{{occurrence.date}}"]
  recordingConfig:
    channelType: 1                 # 0 communication, 1 live broadcast: as the app's SDK
    streamTypes: 2                 # 0 audio, 1 video, 2 both
    maxIdleTime: 300               # seconds with nobody in the channel before Agora stops
    subscribeUidGroup: 1           # users expected: 0: 1-2, 1: 3-7, 2: 8-12 ... 5: 33-49
    subscribeAudioUids: ["#allstream#"]
    subscribeVideoUids: ["#allstream#"]
  recordingFileConfig:
    avFileType: [hls]              # individual recording writes HLS only
steps:                             # calls at offsets from the occurrence's start
  - at: 30m
    update:                        # stop recording one user's video from here on
      streamSubscribe:
        videoUidList: {unSubscribeVideoUids: ["2001"]}
"##;

const WEB: &str = r#"mode: web                          # a web page rendered and recorded
# app_id: "{{env.AGORA_APP_ID}}"   # default: $AGORA_APP_ID
schedule:                          # without one, the plan runs only with `run --now`
  cron: "0 14 * * TUE"             # crontab: minute hour day month weekday
  timezone: UTC                    # IANA name, e.g. Asia/Tokyo
  duration: 1h                     # each occurrence's length: 45s, 30m, 1h30m
  starting_deadline: 5m            # how late an occurrence may still start
on_failure: restart                # a recording that dies early: restart | stop | ignore
channels:                          # web mode: any session key, one recording each
  - cname: "dashboard-{{occurrence.date}}"
    uid: "424242"
start:
  storageConfig:
    vendor: aws_s3
    region: us-east-1
    bucket: my-recordings
    accessKey: "{{env.S3_ACCESS_KEY}}"
    secretKey: "{{env.S3_SECRET_KEY}}"
    fileNamePrefix: ["recordings", "{{occurrence.date}}"]
  recordingFileConfig:
    avFileType: [hls, mp4]
  extensionServiceConfig:
    errorHandlePolicy: error_abort
    extensionServices:
      - serviceName: web_recorder_service
        errorHandlePolicy: error_abort
        serviceParam:
          url: "https://example.com/live"  # the page to record
          audioProfile: 0
          videoWidth: 1280
          videoHeight: 720
          maxRecordingHour: 2      # Agora stops the recording after this long
steps:                             # calls at offsets from the occurrence's start
  - at: 30m
    update:                        # pause the recording for a break
      webRecordingConfig: {onhold: true}
  - at: 40m
    update:
      webRecordingConfig: {onhold: false}
"#;
