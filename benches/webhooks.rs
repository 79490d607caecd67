//! Webhook throughput: signed LINE requests per second through `earshot ingest serve`'s
//! router and serve loop, each answered 200 only after Kafka (librdkafka's mock cluster,
//! in-process) acknowledged its post. Requests go over loopback HTTP from `CONCURRENCY`
//! concurrent clients, each with a new `webhookEventId`, so every one is verified,
//! normalised, published and acknowledged (none is a duplicate).
//!
//!     cargo bench --bench webhooks

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use earshot_ingest::settings::{IngestSettings, LineSettings};
use earshot_ingest::signature::{sign, Scheme};
use earshot_ingest::webhook::{self, Webhooks};
use earshot_ingest::{IngestMetrics, KafkaSink, Secret};
use earshot_kafka::{EmbeddedKafka, Health, Shutdown};
use earshot_pipeline::KafkaConfig;

const CONCURRENCY: usize = 32;
const SECRET: &str = "bench-channel-secret";

fn body(n: u64) -> Vec<u8> {
    format!(
        r#"{{"destination":"Ubot","events":[{{"type":"message","mode":"active","timestamp":1790000000000,"source":{{"type":"user","userId":"U{}"}},"webhookEventId":"01JBENCH{n:018}","deliveryContext":{{"isRedelivery":false}},"replyToken":"r","message":{{"id":"{n}","type":"text","text":"星空モバイル、朝から圏外で電話が繋がらない。どうなってるの？"}}}}]}}"#,
        n % 1000
    )
    .into_bytes()
}

fn webhooks(c: &mut Criterion) {
    let broker = EmbeddedKafka::start(1).expect("mock cluster");
    let kafka = KafkaConfig {
        client: earshot_kafka::KafkaSettings {
            brokers: broker.bootstrap_servers(),
            ..Default::default()
        },
        ..Default::default()
    };
    broker
        .create_topics(&kafka, &kafka.topics.all::<&str>(&[]))
        .expect("topics");
    let ingest = IngestSettings {
        line: Some(LineSettings {
            channel_secret: Some(Secret::new(SECRET)),
            channel_secret_file: None,
        }),
        ..IngestSettings::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let metrics = IngestMetrics::unregistered();
    let health = Health::new();
    let sink = Arc::new(
        KafkaSink::new(&kafka, ingest.recent_ids, metrics.clone(), health.clone()).expect("sink"),
    );
    let hooks = Webhooks::from_settings(&ingest, |p| p.to_path_buf()).expect("hooks");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("port");
    let url = format!(
        "http://{}/webhooks/line",
        listener.local_addr().expect("addr")
    );
    let shutdown = Shutdown::new();
    runtime.spawn(webhook::serve(
        listener,
        webhook::router(hooks, sink, metrics.clone()),
        health,
        shutdown.clone(),
    ));
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicU64::new(0));

    let mut group = c.benchmark_group("webhooks");
    group.throughput(Throughput::Elements(CONCURRENCY as u64));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("line_signed_publish_ack", |b| {
        b.iter_custom(|rounds| {
            runtime.block_on(async {
                let started = Instant::now();
                for _ in 0..rounds {
                    let requests = (0..CONCURRENCY).map(|_| {
                        let body = body(next.fetch_add(1, Ordering::Relaxed));
                        let signature = sign(SECRET.as_bytes(), &body, Scheme::LINE);
                        let request = client
                            .post(&url)
                            .header("x-line-signature", signature)
                            .body(body);
                        tokio::spawn(async move {
                            let response = request.send().await.expect("request");
                            assert_eq!(response.status().as_u16(), 200);
                        })
                    });
                    let handles: Vec<_> = requests.collect();
                    for handle in handles {
                        handle.await.expect("request task");
                    }
                }
                started.elapsed()
            })
        })
    });
    group.finish();
    shutdown.trigger();
    let published = metrics.posts_published.with_label_values(&["line"]).get();
    eprintln!("published and acknowledged: {published} posts");
}

criterion_group!(benches, webhooks);
criterion_main!(benches);
