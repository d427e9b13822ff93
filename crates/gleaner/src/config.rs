//! The config file (`config/gleaner.toml`) and how the database and config paths are found.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use gleaner_fetch::FetchConfig;
use gleaner_model::SourceKind;
use serde::Deserialize;

/// The whole config file. Every key has a default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database path; relative paths are relative to the config file.
    pub db: Option<PathBuf>,
    /// HTTP settings.
    pub fetch: FetchConfig,
    /// What `gleaner run` reads.
    pub sources: Vec<SourceConfig>,
}

/// One `[[sources]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The blog's home page, the feed, the sitemap or the page.
    pub url: String,
    /// How to read it; detected from the URL when omitted.
    pub kind: Option<SourceKind>,
    /// A display name.
    pub name: Option<String>,
    /// Labels added to every article from this source.
    #[serde(default)]
    pub labels: Vec<String>,
    /// `[fetch]` keys this source overrides (`[sources.fetch]` or `fetch = { … }`), as
    /// written; [`parse_config`] checks them and fills `fetch_config`.
    #[serde(default)]
    pub fetch: Option<toml::Table>,
    /// The global `[fetch]` with this source's overrides applied, when it has any.
    #[serde(skip)]
    pub fetch_config: Option<FetchConfig>,
}

impl SourceConfig {
    /// The kind given, else the kind the URL suggests: feed and sitemap addresses by their
    /// path, anything else as a blog home page when its path is `/`, else a single page.
    pub fn effective_kind(&self) -> SourceKind {
        self.kind.unwrap_or_else(|| guess_source_kind(&self.url))
    }
}

/// Guess how to read a source from its URL alone.
pub fn guess_source_kind(url: &str) -> SourceKind {
    let Ok(parsed) = url::Url::parse(url) else {
        return SourceKind::Page;
    };
    let path = parsed.path().to_ascii_lowercase();
    if path.contains("sitemap") {
        SourceKind::Sitemap
    } else if path.contains("/feeds/posts")
        || path.ends_with(".xml")
        || path.ends_with(".rss")
        || path.ends_with(".atom")
        || path.ends_with("/feed")
        || path.ends_with("/rss")
    {
        SourceKind::Feed
    } else if path == "/" || path.is_empty() {
        SourceKind::Blogger
    } else {
        SourceKind::Page
    }
}

/// A loaded config and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The config.
    pub config: Config,
    /// The file it was read from, `None` for built-in defaults.
    pub path: Option<PathBuf>,
}

impl LoadedConfig {
    /// Load the config: `--config`, else `GLEANER_CONFIG`, else `./config/gleaner.toml` if it
    /// exists, else built-in defaults. A named file that is missing or invalid is an error.
    pub fn load(explicit: Option<&Path>) -> Result<Self> {
        let from_env = std::env::var_os("GLEANER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let named = explicit.map(Path::to_path_buf).or(from_env);
        let path = match named {
            Some(p) => {
                if !p.is_file() {
                    bail!("config file {} does not exist", p.display());
                }
                Some(p)
            }
            None => {
                let default = PathBuf::from("config/gleaner.toml");
                default.is_file().then_some(default)
            }
        };
        let config = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config {}", p.display()))?;
                parse_config(&text).with_context(|| format!("in config {}", p.display()))?
            }
            None => Config::default(),
        };
        Ok(LoadedConfig { config, path })
    }

    /// The database path: `--db`, else `GLEANER_DB`, else the config's `db` (relative to the
    /// config file's folder, unless it is a `postgres://` address), else `./gleaner.db`.
    pub fn db_path(&self, explicit: Option<&Path>) -> PathBuf {
        if let Some(p) = explicit {
            return p.to_path_buf();
        }
        if let Some(p) = std::env::var_os("GLEANER_DB").filter(|v| !v.is_empty()) {
            return PathBuf::from(p);
        }
        if let Some(db) = &self.config.db {
            if db.is_absolute() || gleaner_store::AnyStore::path_is_postgres(db) {
                return db.clone();
            }
            let base = self
                .path
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new(""));
            return base.join(db);
        }
        PathBuf::from("gleaner.db")
    }
}

/// Parse and check a config file's text.
pub fn parse_config(text: &str) -> Result<Config> {
    let mut config: Config = toml::from_str(text)?;
    let raw: toml::Table = toml::from_str(text)?;
    let global_fetch = raw
        .get("fetch")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    for source in &mut config.sources {
        if let Some(overrides) = &source.fetch {
            let mut merged = global_fetch.clone();
            for (k, v) in overrides {
                merged.insert(k.clone(), v.clone());
            }
            let fetch: FetchConfig = toml::Value::Table(merged)
                .try_into()
                .with_context(|| format!("in the fetch overrides of source {}", source.url))?;
            fetch
                .validate()
                .with_context(|| format!("in the fetch overrides of source {}", source.url))?;
            source.fetch_config = Some(fetch);
        }
    }
    for source in &config.sources {
        let url =
            url::Url::parse(&source.url).with_context(|| format!("source url {:?}", source.url))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!(
                "source url {:?}: only http and https are supported",
                source.url
            );
        }
    }
    config.fetch.validate().context("in [fetch]")?;
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_parses() {
        let text = include_str!("../../../config/gleaner.toml");
        let config = parse_config(text).unwrap();
        assert!(
            config.sources.len() >= 2,
            "the shipped config names example blogs"
        );
        assert!(
            config
                .sources
                .iter()
                .all(|s| s.effective_kind() == SourceKind::Blogger)
        );
        assert_eq!(
            config.fetch,
            FetchConfig::default(),
            "the shipped [fetch] documents the defaults"
        );
    }

    #[test]
    fn unknown_keys_are_errors_not_silence() {
        let err = parse_config("[fetch]\nconcurency = 4\n").unwrap_err();
        assert!(format!("{err:#}").contains("concurency"), "{err:#}");
        assert!(parse_config("[[sources]]\nurl = \"ftp://x/\"\n").is_err());
        assert!(
            parse_config("[[sources]]\nurl = \"https://x.blogspot.com/\"\nkind = \"rss\"\n")
                .is_err()
        );
    }

    #[test]
    fn sources_override_fetch_keys_over_the_global_table() {
        let text = "[fetch]\nconcurrency = 4\nper_host_per_second = 2.0\n\n\
                    [[sources]]\nurl = \"https://a.example/\"\n\n\
                    [[sources]]\nurl = \"https://b.example/feed\"\n\
                    [sources.fetch]\nper_host_per_second = 0.5\n\n\
                    [[sources]]\nurl = \"https://c.example/sitemap.xml\"\n\
                    fetch = { max_attempts = 2 }\n";
        let config = parse_config(text).unwrap();
        assert_eq!(config.sources[0].fetch_config, None);
        let b = config.sources[1].fetch_config.as_ref().unwrap();
        assert_eq!((b.concurrency, b.per_host_per_second), (4, 0.5));
        let c = config.sources[2].fetch_config.as_ref().unwrap();
        assert_eq!((c.max_attempts, c.per_host_per_second), (2, 2.0));
        let err =
            parse_config("[[sources]]\nurl = \"https://a.example/\"\nfetch = { per_host = 1 }\n")
                .unwrap_err();
        assert!(format!("{err:#}").contains("per_host"), "{err:#}");
        let err = parse_config(
            "[[sources]]\nurl = \"https://a.example/\"\nfetch = { concurrency = 0 }\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("concurrency"), "{err:#}");
    }

    #[test]
    fn source_kinds_are_guessed_from_urls() {
        assert_eq!(
            guess_source_kind("https://security.googleblog.com/"),
            SourceKind::Blogger
        );
        assert_eq!(
            guess_source_kind("https://x.blogspot.com/feeds/posts/default"),
            SourceKind::Feed
        );
        assert_eq!(
            guess_source_kind("https://example.com/sitemap.xml"),
            SourceKind::Sitemap
        );
        assert_eq!(
            guess_source_kind("https://example.com/feed"),
            SourceKind::Feed
        );
        assert_eq!(
            guess_source_kind("https://x.blogspot.com/2022/01/a.html"),
            SourceKind::Page
        );
    }

    #[test]
    fn relative_db_paths_follow_the_config_file() {
        let loaded = LoadedConfig {
            config: Config {
                db: Some("data/news.db".into()),
                ..Config::default()
            },
            path: Some(PathBuf::from("/etc/gleaner/gleaner.toml")),
        };
        // An explicit --db wins over everything.
        assert_eq!(
            loaded.db_path(Some(Path::new("x.db"))),
            PathBuf::from("x.db")
        );
        if std::env::var_os("GLEANER_DB").is_none() {
            assert_eq!(
                loaded.db_path(None),
                PathBuf::from("/etc/gleaner/data/news.db")
            );
        }
    }
}
