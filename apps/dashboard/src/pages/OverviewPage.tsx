import { useQuery } from '@tanstack/react-query';
import { useParams } from '@tanstack/react-router';
import { api } from '../api/client';
import { Card, ErrorNote, Spinner } from '../components/ui';
import { duration } from '../lib/format';

interface Stats {
  readonly created: { total: number; by_state: Record<string, number> };
  readonly finished: {
    succeeded: number;
    failed: number;
    retried: number;
    failure_rate: number | null;
    runtime_ms: { p50: number | null; p95: number | null };
  };
}

interface Trends {
  readonly buckets: { start: string; succeeded: number; failed: number; retried: number }[];
}

/** Succeeded (green) and failed (red) tasks per hour as stacked bars: plain SVG, no chart library in the bundle. */
function ThroughputChart({ buckets }: { buckets: Trends['buckets'] }) {
  const max = Math.max(1, ...buckets.map((bucket) => bucket.succeeded + bucket.failed));
  const width = 720;
  const height = 160;
  const step = width / Math.max(1, buckets.length);
  return (
    <svg viewBox={`0 0 ${width} ${height}`} className="h-40 w-full" role="img" aria-label="Tasks finished per hour, succeeded and failed">
      {buckets.map((bucket, index) => {
        const ok = (bucket.succeeded / max) * (height - 10);
        const bad = (bucket.failed / max) * (height - 10);
        const x = index * step + 1;
        return (
          <g key={bucket.start}>
            <title>{`${new Date(bucket.start).toLocaleString()}: ${bucket.succeeded} succeeded, ${bucket.failed} failed`}</title>
            <rect x={x} y={height - ok} width={Math.max(1, step - 2)} height={ok} className="fill-emerald-500" />
            <rect x={x} y={height - ok - bad} width={Math.max(1, step - 2)} height={bad} className="fill-red-500" />
          </g>
        );
      })}
    </svg>
  );
}

export function OverviewPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/' });
  const stats = useQuery({ queryKey: [slug, 'overview', 'stats'], queryFn: () => api<Stats>(`/projects/${slug}/stats`) });
  const trends = useQuery({
    queryKey: [slug, 'overview', 'trends'],
    queryFn: () => api<Trends>(`/projects/${slug}/trends`, { query: { bucket: 'hour' } }),
  });
  if (stats.isPending) return <Spinner />;
  if (stats.error) return <ErrorNote error={stats.error} />;
  const { finished, created } = stats.data;
  const tiles = [
    ['Tasks received', created.total],
    ['Succeeded', finished.succeeded],
    ['Failed', finished.failed],
    ['Failure rate', finished.failure_rate === null ? '—' : `${(finished.failure_rate * 100).toFixed(1)}%`],
    ['Runtime p50', duration(finished.runtime_ms.p50)],
    ['Runtime p95', duration(finished.runtime_ms.p95)],
  ] as const;
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Overview (last 24 hours)</h1>
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 lg:grid-cols-6">
        {tiles.map(([label, value]) => (
          <Card key={label}>
            <p className="text-xs text-muted">{label}</p>
            <p className="text-xl font-semibold">{value}</p>
          </Card>
        ))}
      </div>
      <Card title="Throughput">{trends.data ? <ThroughputChart buckets={trends.data.buckets} /> : <Spinner />}</Card>
    </div>
  );
}
