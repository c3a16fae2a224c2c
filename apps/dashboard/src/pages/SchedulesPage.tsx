import { useMutation, useQueryClient } from '@tanstack/react-query';
import { Link, useParams } from '@tanstack/react-router';
import { useState } from 'react';
import { api } from '../api/client';
import { keys, useSchedules } from '../api/queries';
import type { Schedule, ScheduleControl } from '../api/types';
import { useProjectRole } from '../components/AppShell';
import { CommandOutcome, useTrackedCommand } from '../components/CommandOutcome';
import { Badge, Button, ConfirmDialog, EmptyState, ErrorNote, Spinner, Table } from '../components/ui';
import { dateTime, relativeTime } from '../lib/format';

type Control = 'enable' | 'disable' | 'trigger';

/**
 * Schedules the agents' schedulers reported (celery-beat, z4j-scheduler, ...). Operators enable, disable or
 * fire one now; each goes to an online agent running the schedule's scheduler, so the outcome line shows
 * that command's progress.
 */
export function SchedulesPage() {
  const { slug } = useParams({ from: '/app/projects/$slug/schedules' });
  const schedules = useSchedules(slug);
  const role = useProjectRole(slug);
  const canWrite = role === 'operator' || role === 'admin';
  const client = useQueryClient();
  const { command, track } = useTrackedCommand(slug);
  const [triggering, setTriggering] = useState<Schedule | undefined>();
  const control = useMutation({
    mutationFn: ({ schedule, action }: { schedule: Schedule; action: Control }) =>
      api<ScheduleControl>(`/projects/${slug}/schedules/${schedule.id}/${action}`, { method: 'POST' }),
    onMutate: () => track(undefined),
    onSuccess: (reply) => track(reply.command),
    onSettled: () => client.invalidateQueries({ queryKey: keys.schedules(slug) }),
  });

  return (
    <div className="space-y-3">
      <h1 className="text-xl font-semibold">Schedules</h1>
      <CommandOutcome command={command} error={control.error} />
      {schedules.isPending ? (
        <Spinner />
      ) : schedules.error ? (
        <ErrorNote error={schedules.error} />
      ) : schedules.data.items.length === 0 ? (
        <EmptyState title="No schedules yet">
          Schedules appear when an agent with a scheduler adapter (celery-beat, z4j-scheduler, …) reports them.{' '}
          <Link to="/projects/$slug/agents" params={{ slug }} className="text-accent underline">
            See the agents
          </Link>{' '}
          and the schedulers they run.
        </EmptyState>
      ) : (
        <Table
          label="Schedules"
          minWidth="min-w-[56rem]"
          head={['Schedule', 'State', 'When', 'Task', 'Scheduler', 'Last run', 'Next run', 'Runs', canWrite ? 'Actions' : '']}
        >
          {schedules.data.items.map((schedule) => (
            <tr key={schedule.id}>
              <td className="px-3 py-2 font-medium">{schedule.name}</td>
              <td className="px-3 py-2">
                <Badge value={schedule.is_enabled ? 'enabled' : 'disabled'} />
              </td>
              <td className="px-3 py-2">
                <span className="font-mono text-xs">{schedule.expression}</span>
                <div className="text-xs text-muted">
                  {schedule.kind} · {schedule.timezone}
                </div>
              </td>
              <td className="px-3 py-2">
                <span className="font-mono text-xs">{schedule.task_name}</span>
                {schedule.queue && <div className="text-xs text-muted">queue {schedule.queue}</div>}
              </td>
              <td className="px-3 py-2">{schedule.scheduler}</td>
              <td className="px-3 py-2 text-muted">{relativeTime(schedule.last_run_at)}</td>
              <td className="px-3 py-2 text-muted">{dateTime(schedule.next_run_at)}</td>
              <td className="px-3 py-2">{schedule.total_runs}</td>
              <td className="px-3 py-2">
                {canWrite && (
                  <div className="flex gap-2">
                    <Button
                      disabled={control.isPending}
                      aria-label={`${schedule.is_enabled ? 'Disable' : 'Enable'} ${schedule.name}`}
                      onClick={() => control.mutate({ schedule, action: schedule.is_enabled ? 'disable' : 'enable' })}
                    >
                      {schedule.is_enabled ? 'Disable' : 'Enable'}
                    </Button>
                    <Button
                      disabled={control.isPending}
                      aria-label={`Trigger ${schedule.name} now`}
                      onClick={() => setTriggering(schedule)}
                    >
                      Trigger now
                    </Button>
                  </div>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {triggering && (
        <ConfirmDialog
          title={`Trigger ${triggering.name} now`}
          confirmLabel="Trigger now"
          onClose={() => setTriggering(undefined)}
          onConfirm={() => {
            control.mutate({ schedule: triggering, action: 'trigger' });
            setTriggering(undefined);
          }}
        >
          <p>
            Runs <span className="font-mono">{triggering.task_name}</span> once, right away, through {triggering.scheduler}. The schedule
            itself stays as it is.
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
