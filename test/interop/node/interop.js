// kafkajs driver for the Runnel interop suite (test/interop/kafkajs_test.go).
//
//   node interop.js produce BROKER TOPIC COUNT CODEC
//     creates TOPIC (2 partitions) unless it exists, then sends COUNT records
//     with an idempotent producer (acks=all): key "key-<i>", value
//     "kafkajs value <i> ...", header index=<i>, partition i%2, compressed
//     with CODEC (none, gzip, or snappy via kafkajs-snappy). Prints
//     {"acked": COUNT} on success.
//   node interop.js consume BROKER TOPIC COUNT
//     reads every partition of TOPIC from offset 0 with plain Fetch requests
//     (no consumer group: that is the consumer-groups issue) until COUNT
//     records arrived; prints one JSON line per record:
//     {"partition","offset","key","value","headers"} with key/value base64.
'use strict'

const { Kafka, CompressionTypes, CompressionCodecs, logLevel } = require('kafkajs')
// kafkajs ships gzip only; snappy comes from the kafkajs-snappy codec (pure JS).
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy')

const [cmd, broker, topic, countArg, codec = 'none'] = process.argv.slice(2)
const count = Number(countArg)

const kafka = new Kafka({
  clientId: 'runnel-interop-kafkajs',
  brokers: [broker],
  logLevel: logLevel.WARN,
  retry: { retries: 3 },
})

function codecType (name) {
  switch (name) {
    case 'none': return CompressionTypes.None
    case 'gzip': return CompressionTypes.GZIP
    case 'snappy': return CompressionTypes.Snappy
    default: throw new Error(`kafkajs has no built-in codec ${name}`)
  }
}

async function produce () {
  const admin = kafka.admin()
  await admin.connect()
  const existing = await admin.listTopics()
  if (!existing.includes(topic)) {
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true })
  }
  await admin.disconnect()

  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await producer.connect()
  const batch = 100
  for (let start = 0; start < count; start += batch) {
    const messages = []
    for (let i = start; i < Math.min(count, start + batch); i++) {
      messages.push({
        partition: i % 2,
        key: `key-${i}`,
        value: `kafkajs value ${i} ${'x'.repeat(i % 100)}`,
        headers: { index: `${i}` },
      })
    }
    await producer.send({ topic, acks: -1, compression: codecType(codec), messages })
  }
  await producer.disconnect()
  console.log(JSON.stringify({ acked: count }))
}

// kafkajs only exposes consumption through consumer groups; its cluster
// object (the same one the consumer uses) issues plain Fetch requests.
function newCluster () {
  const sym = Object.getOwnPropertySymbols(kafka).find(s => s.toString() === 'Symbol(private:Kafka:createCluster)')
  if (!sym) throw new Error('kafkajs internals changed: no createCluster')
  return kafka[sym]({ allowAutoTopicCreation: false })
}

async function consume () {
  const cluster = newCluster()
  await cluster.connect()
  await cluster.addTargetTopic(topic)
  const metadata = cluster.findTopicPartitionMetadata(topic)
  const next = new Map(metadata.map(p => [p.partitionId, '0']))
  const leaders = new Map(metadata.map(p => [p.partitionId, p.leader]))
  let got = 0
  const deadline = Date.now() + 60000
  while (got < count) {
    if (Date.now() > deadline) throw new Error(`only ${got} of ${count} records within 60s`)
    for (const [partition, offset] of next) {
      const leader = await cluster.findBroker({ nodeId: leaders.get(partition) })
      const resp = await leader.fetch({
        maxWaitTime: 200,
        minBytes: 1,
        maxBytes: 1 << 20,
        topics: [{ topic, partitions: [{ partition, fetchOffset: offset, maxBytes: 1 << 20 }] }],
      })
      for (const t of resp.responses) {
        for (const p of t.partitions) {
          if (p.errorCode !== 0) throw new Error(`fetch ${topic}/${p.partition}: error ${p.errorCode}`)
          for (const m of p.messages) {
            if (BigInt(m.offset) < BigInt(next.get(p.partition))) continue // batch start before fetchOffset
            const headers = {}
            for (const [k, v] of Object.entries(m.headers || {})) headers[k] = Buffer.from(v).toString('base64')
            console.log(JSON.stringify({
              partition: p.partition,
              offset: Number(m.offset),
              key: m.key ? Buffer.from(m.key).toString('base64') : null,
              value: m.value ? Buffer.from(m.value).toString('base64') : null,
              headers,
            }))
            next.set(p.partition, (BigInt(m.offset) + 1n).toString())
            got++
          }
        }
      }
    }
  }
  await cluster.disconnect()
}

const run = { produce, consume }[cmd]
if (!run) {
  console.error('usage: node interop.js produce|consume BROKER TOPIC COUNT [CODEC]')
  process.exit(2)
}
run().catch(err => {
  console.error(`kafkajs ${cmd} failed: ${err.stack || err}`)
  process.exit(1)
})
