//! The S3 seam: where the finish and record-failure tasks put an execution's report (see
//! [`crate::evidence`]). One operation, PutObject, because that is all the worker's IAM role may
//! do on the report bucket: no read, list or delete, and the bucket's Object Lock keeps every
//! version for its retention.

use std::future::Future;
use std::pin::Pin;

use crate::error::{TaskError, from_sdk};

/// One object to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObject {
    pub bucket: String,
    pub key: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The object store the reports go to. [`SdkS3`] is the real one; `MemoryS3` (test-util) keeps
/// the objects in memory and can be told to fail or hang.
pub trait ObjectStore: Send + Sync + 'static {
    fn put_object(&self, object: PutObject) -> impl Future<Output = Result<(), TaskError>> + Send;
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`ObjectStore`] behind a pointer: the task handlers hold the store without one more type
/// parameter.
pub trait DynObjectStore: Send + Sync + 'static {
    fn put_object_boxed(&self, object: PutObject) -> BoxFuture<'_, Result<(), TaskError>>;
}

impl<T: ObjectStore> DynObjectStore for T {
    fn put_object_boxed(&self, object: PutObject) -> BoxFuture<'_, Result<(), TaskError>> {
        Box::pin(self.put_object(object))
    }
}

/// [`ObjectStore`] over aws-sdk-s3.
#[derive(Clone, Debug)]
pub struct SdkS3 {
    client: aws_sdk_s3::Client,
}

impl SdkS3 {
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        SdkS3 { client }
    }
}

/// An S3 client from the standard AWS environment (`AWS_ENDPOINT_URL_S3` for a local S3), with
/// the worker's short timeouts; path-style requests when asked (LocalStack).
pub fn s3_client(config: &aws_config::SdkConfig, force_path_style: bool) -> aws_sdk_s3::Client {
    use aws_config::timeout::TimeoutConfig;
    use std::time::Duration;
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(30))
        .operation_attempt_timeout(Duration::from_secs(35))
        .build();
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .timeout_config(timeouts)
            .force_path_style(force_path_style)
            .build(),
    )
}

impl ObjectStore for SdkS3 {
    async fn put_object(&self, object: PutObject) -> Result<(), TaskError> {
        self.client
            .put_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .content_type(&object.content_type)
            .body(aws_sdk_s3::primitives::ByteStream::from(object.body))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| from_sdk("S3 PutObject", &e))
    }
}

#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryS3;

#[cfg(any(test, feature = "test-util"))]
mod memory {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use super::{ObjectStore, PutObject};
    use crate::error::TaskError;

    /// An in-memory [`ObjectStore`]: objects by (bucket, key), the next put told to fail or
    /// to never answer.
    #[derive(Clone, Default)]
    pub struct MemoryS3 {
        inner: Arc<Mutex<Inner>>,
    }

    #[derive(Default)]
    struct Inner {
        objects: BTreeMap<(String, String), PutObject>,
        fail_next: Option<TaskError>,
        hang: bool,
    }

    impl MemoryS3 {
        pub fn new() -> Self {
            Self::default()
        }

        fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }

        /// The next put fails with `err`.
        pub fn fail_next(&self, err: TaskError) {
            self.inner().fail_next = Some(err);
        }

        /// Every put from now on never answers (a black-holed endpoint).
        pub fn hang(&self) {
            self.inner().hang = true;
        }

        pub fn object(&self, bucket: &str, key: &str) -> Option<PutObject> {
            self.inner()
                .objects
                .get(&(bucket.to_owned(), key.to_owned()))
                .cloned()
        }

        /// Every key, in order.
        pub fn keys(&self) -> Vec<String> {
            self.inner()
                .objects
                .keys()
                .map(|(_, k)| k.clone())
                .collect()
        }
    }

    impl ObjectStore for MemoryS3 {
        async fn put_object(&self, object: PutObject) -> Result<(), TaskError> {
            let hang = {
                let mut inner = self.inner();
                if let Some(err) = inner.fail_next.take() {
                    return Err(err);
                }
                inner.hang
            };
            if hang {
                std::future::pending::<()>().await;
            }
            self.inner()
                .objects
                .insert((object.bucket.clone(), object.key.clone()), object);
            Ok(())
        }
    }
}
