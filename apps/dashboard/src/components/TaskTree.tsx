import { useQuery } from '@tanstack/react-query';
import { Link } from '@tanstack/react-router';
import { api } from '../api/client';
import type { TaskState } from '../api/types';
import { Badge, Spinner } from './ui';

interface TreeNode {
  readonly task_id: string;
  readonly engine: string;
  readonly name: string;
  readonly state: TaskState;
  readonly parent_task_id: string | null;
}

interface TaskTreeReply {
  readonly root_task_id: string;
  readonly nodes: TreeNode[];
  readonly truncated: boolean;
}

/** Children of each task id, in the API's order (oldest first). */
function childrenOf(nodes: readonly TreeNode[]): Map<string, TreeNode[]> {
  const byParent = new Map<string, TreeNode[]>();
  for (const node of nodes) {
    if (node.parent_task_id === null) continue;
    const siblings = byParent.get(node.parent_task_id) ?? [];
    siblings.push(node);
    byParent.set(node.parent_task_id, siblings);
  }
  return byParent;
}

function Branch({
  node,
  byParent,
  slug,
  current,
  depth,
}: {
  node: TreeNode;
  byParent: Map<string, TreeNode[]>;
  slug: string;
  current: string;
  depth: number;
}) {
  const kids = byParent.get(node.task_id) ?? [];
  return (
    <li>
      <div className={`flex items-center gap-2 py-0.5 ${node.task_id === current ? 'font-semibold' : ''}`}>
        {node.task_id === current ? (
          <span aria-current="true">{node.name}</span>
        ) : (
          <Link
            to="/projects/$slug/tasks/$engine/$taskId"
            params={{ slug, engine: node.engine, taskId: node.task_id }}
            className="hover:underline"
          >
            {node.name}
          </Link>
        )}
        <Badge value={node.state} />
        <span className="font-mono text-xs text-muted">{node.task_id}</span>
      </div>
      {kids.length > 0 && depth < 50 && (
        <ul className="ml-4 border-l border-line pl-3">
          {kids.map((kid) => (
            <Branch key={kid.task_id} node={kid} byParent={byParent} slug={slug} current={current} depth={depth + 1} />
          ))}
        </ul>
      )}
    </li>
  );
}

/**
 * The task's canvas (§8 task detail): its ancestors up to the root and the root's descendants, as a tree; the
 * current task in bold, every other one a link. Hidden when the task stands alone.
 */
export function TaskTree({ slug, engine, taskId }: { slug: string; engine: string; taskId: string }) {
  const tree = useQuery({
    queryKey: [slug, 'tasks', 'tree', engine, taskId],
    queryFn: () => api<TaskTreeReply>(`/projects/${slug}/tasks/${encodeURIComponent(engine)}/${encodeURIComponent(taskId)}/tree`),
  });
  if (tree.isPending) return <Spinner />;
  if (!tree.data || tree.data.nodes.length <= 1) return <p className="text-sm text-muted">This task has no parent or children.</p>;
  const byParent = childrenOf(tree.data.nodes);
  const root = tree.data.nodes.find((node) => node.task_id === tree.data.root_task_id) ?? tree.data.nodes[0]!;
  return (
    <div className="text-sm" data-testid="task-tree">
      <ul>
        <Branch node={root} byParent={byParent} slug={slug} current={taskId} depth={0} />
      </ul>
      {tree.data.truncated && <p className="mt-2 text-xs text-muted">Showing the first 1,000 tasks of this canvas.</p>}
    </div>
  );
}
